"""Where the Kubernetes API server is and how to authenticate to it: in-cluster or a kubeconfig.

Two sources, as every Kubernetes client has them:

- **In cluster** (the DaemonSet): ``KUBERNETES_SERVICE_HOST``/``KUBERNETES_SERVICE_PORT`` name the
  API server; the service-account token and the cluster CA are files under
  ``/var/run/secrets/kubernetes.io/serviceaccount``. The kubelet rotates the token file (a
  projected, expiring token), so the token is re-read whenever the file changes — never cached
  for the life of the process.
- **A kubeconfig file** (running the agent by hand, tests): the current context's cluster
  (``server``, ``certificate-authority`` or ``-data``, ``insecure-skip-tls-verify``) and user
  (``token``, ``tokenFile``, ``client-certificate``/``client-key`` or their ``-data``).
  ``exec`` and ``auth-provider`` users are refused with a clear message: they would need other
  programs. The file may be YAML (the subset in ``kubeyaml``) or JSON.
"""

from __future__ import annotations

import base64
import http.client
import os
import ssl
import tempfile
import urllib.parse

from humanz.agent import kubeyaml

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping

__all__ = ["ConfigError", "TokenSource", "KubeConfig", "in_cluster", "from_kubeconfig", "load"]

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class ConfigError(Exception):
    """The API server's location or credentials cannot be worked out; says what is missing."""


class TokenSource:
    """A bearer token: fixed, or read from a file and re-read whenever that file changes.

    ``stat`` is checked on every request (cheap); the kubelet replaces a projected token by
    swapping a symlink, which changes the inode, so a rotation is seen at the next request.
    ``invalidate`` forces a re-read (after a 401, in case the change went unnoticed).
    """

    __slots__ = ("path", "_token", "_stamp")

    def __init__(self, token: str | None = None, path: str | None = None) -> None:
        self.path = path
        self._token = token
        self._stamp: tuple[int, int, int] | None = None

    def get(self) -> str | None:
        """The current token (None when there is none)."""
        if self.path is None:
            return self._token
        st = os.stat(self.path)
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp != self._stamp or self._token is None:
            with open(self.path, encoding="utf-8") as f:
                self._token = f.read().strip()
            self._stamp = stamp
        return self._token

    def invalidate(self) -> None:
        """Forget the cached file token, so the next ``get`` reads the file again."""
        if self.path is not None:
            self._stamp = None
            self._token = None


class KubeConfig:
    """An API server endpoint (scheme, host, port, path prefix), TLS context and token."""

    __slots__ = ("scheme", "host", "port", "base_path", "ssl_context", "token", "source")

    def __init__(self, server: str, ssl_context: ssl.SSLContext | None, token: TokenSource,
                 source: str) -> None:
        url = urllib.parse.urlsplit(server)
        if url.scheme not in ("https", "http") or not url.hostname:
            raise ConfigError("server %r is not an http(s) URL (from %s)" % (server, source))
        self.scheme = url.scheme
        self.host = url.hostname
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.base_path = url.path.rstrip("/")
        self.ssl_context = ssl_context
        self.token = token
        self.source = source

    def server(self) -> str:
        """The server URL, for log lines."""
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s://%s:%d%s" % (self.scheme, host, self.port, self.base_path)

    def connect(self, timeout: float) -> http.client.HTTPConnection:
        """A new (not yet connected) HTTP(S) connection to the server."""
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                               context=self.ssl_context)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)


def in_cluster(env: Mapping[str, str] | None = None,
               sa_dir: str = SERVICE_ACCOUNT_DIR) -> KubeConfig:
    """The configuration a pod has: service environment variables, token and CA files."""
    env = os.environ if env is None else env
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise ConfigError("not running in a cluster (KUBERNETES_SERVICE_HOST/PORT unset) and "
                          "no kubeconfig given (--kubeconfig or KUBECONFIG)")
    token_path = os.path.join(sa_dir, "token")
    ca_path = os.path.join(sa_dir, "ca.crt")
    for path in (token_path, ca_path):
        if not os.path.exists(path):
            raise ConfigError("in-cluster configuration: %s is missing (is the service "
                              "account token mounted?)" % path)
    ctx = ssl.create_default_context(cafile=ca_path)
    host_text = "[%s]" % host if ":" in host else host
    return KubeConfig("https://%s:%s" % (host_text, port), ctx, TokenSource(path=token_path),
                      "in-cluster service account")


def from_kubeconfig(path: str, context: str | None = None) -> KubeConfig:
    """The configuration of ``context`` (default: current-context) in a kubeconfig file."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = kubeyaml.load(f.read())
    except OSError as e:
        raise ConfigError("cannot read kubeconfig %s: %s" % (path, e.strerror)) from None
    except kubeyaml.YAMLSubsetError as e:
        raise ConfigError("kubeconfig %s: %s" % (path, e)) from None
    if not isinstance(doc, dict):
        raise ConfigError("kubeconfig %s is not a mapping" % path)
    base = os.path.dirname(os.path.abspath(path))
    ctx_name = context or doc.get("current-context")
    if not ctx_name:
        raise ConfigError("kubeconfig %s has no current-context" % path)
    ctx = _named(doc, "contexts", "context", str(ctx_name), path)
    cluster = _named(doc, "clusters", "cluster", str(ctx.get("cluster")), path)
    user = _named(doc, "users", "user", str(ctx.get("user")), path) if ctx.get("user") else {}
    server = cluster.get("server")
    if not isinstance(server, str):
        raise ConfigError("kubeconfig %s: cluster %r has no server" % (path, ctx.get("cluster")))
    source = "kubeconfig %s (context %s)" % (path, ctx_name)
    ssl_ctx = None
    if server.startswith("https:"):
        ssl_ctx = _tls_context(cluster, user, base, source)
    return KubeConfig(server, ssl_ctx, _user_token(user, base, source), source)


def load(kubeconfig: str | None, context: str | None = None) -> KubeConfig:
    """A kubeconfig when one is named (flag or ``KUBECONFIG``), else the in-cluster config."""
    if kubeconfig:
        return from_kubeconfig(kubeconfig, context)
    return in_cluster()


def _named(doc: dict[str, Any], section: str, key: str, name: str, path: str) -> dict[str, Any]:
    """The ``key`` mapping of the entry called ``name`` in the list ``doc[section]``."""
    for entry in doc.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            value = entry.get(key) or {}
            if not isinstance(value, dict):
                raise ConfigError("kubeconfig %s: %s %r is not a mapping" % (path, key, name))
            return value
    raise ConfigError("kubeconfig %s: no %s named %r" % (path, key, name))


def _resolve(base: str, path: str) -> str:
    """kubeconfig file references are relative to the kubeconfig's directory."""
    return path if os.path.isabs(path) else os.path.join(base, path)


def _pem(entry: dict[str, Any], field: str, base: str, source: str) -> tuple[str | None, bytes | None]:
    """(file path, inline bytes) for ``field`` / ``field-data``; at most one is set."""
    data = entry.get(field + "-data")
    if data:
        try:
            return None, base64.b64decode(str(data), validate=True)
        except ValueError:
            raise ConfigError("%s: %s-data is not base64" % (source, field)) from None
    if entry.get(field):
        return _resolve(base, str(entry[field])), None
    return None, None


def _tls_context(cluster: dict[str, Any], user: dict[str, Any], base: str,
                 source: str) -> ssl.SSLContext:
    """Server verification (CA or insecure-skip-tls-verify) plus an optional client cert."""
    ca_file, ca_data = _pem(cluster, "certificate-authority", base, source)
    if cluster.get("insecure-skip-tls-verify") is True:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif ca_file or ca_data:
        ctx = ssl.create_default_context(
            cafile=ca_file, cadata=ca_data.decode("ascii", "replace") if ca_data else None)
    else:
        ctx = ssl.create_default_context()
    cert_file, cert_data = _pem(user, "client-certificate", base, source)
    key_file, key_data = _pem(user, "client-key", base, source)
    if (cert_file or cert_data) and (key_file or key_data):
        _load_client_cert(ctx, cert_file, cert_data, key_file, key_data)
    elif cert_file or cert_data or key_file or key_data:
        raise ConfigError("%s: a client certificate needs both certificate and key" % source)
    return ctx


def _load_client_cert(ctx: ssl.SSLContext, cert_file: str | None, cert_data: bytes | None,
                      key_file: str | None, key_data: bytes | None) -> None:
    """``load_cert_chain`` reads only files: inline data goes through a private temp dir."""
    with tempfile.TemporaryDirectory(prefix="humanz-agent-") as tmp:
        if cert_data is not None:
            cert_file = os.path.join(tmp, "client.crt")
            _write_private(cert_file, cert_data)
        if key_data is not None:
            key_file = os.path.join(tmp, "client.key")
            _write_private(key_file, key_data)
        assert cert_file is not None and key_file is not None
        ctx.load_cert_chain(cert_file, key_file)


def _write_private(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _user_token(user: dict[str, Any], base: str, source: str) -> TokenSource:
    """The user's bearer token (inline or a file re-read on change); none for cert users."""
    for unsupported in ("exec", "auth-provider"):
        if user.get(unsupported):
            raise ConfigError("%s: user authentication by %r is not supported (it runs other "
                              "programs); use a token, tokenFile or client certificate"
                              % (source, unsupported))
    if user.get("token"):
        return TokenSource(token=str(user["token"]))
    if user.get("tokenFile"):
        return TokenSource(path=_resolve(base, str(user["tokenFile"])))
    return TokenSource()
