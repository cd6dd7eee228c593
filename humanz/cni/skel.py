"""The plugin's skeleton: environment + stdin → Request, dispatch, output, exit status.

What the CNI spec (1.1.0) asks of every plugin, in one place:

- no CNI_COMMAND: print an about text on stderr and exit 0;
- VERSION: print the supported versions (this path imports nothing but version.py);
- ADD, DEL, CHECK, GC, STATUS: check the CNI_* variables the command needs (code 4 naming
  them), decode stdin (code 6), check the config's cniVersion (code 1, also for CHECK before
  0.4.0 and GC/STATUS before 1.1.0), then hand over to humanz.bridge;
- success: ADD prints its result in the config's version, the others print nothing; exit 0;
- failure: ``{"cniVersion","code","msg","details"}`` on stdout, exit 1. A bug in humanz is
  still a coded error (999); its traceback goes to the log file, never to stdout or stderr.
"""

from __future__ import annotations

import os
import sys

from humanz.cni import version as _version
from humanz.cni.errors import (DECODING_FAILURE, INTERNAL, INVALID_ENV, IO_FAILURE, CNIError)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping

    from humanz.cni.args import CniArgs
    from humanz.cni.config import NetConf

COMMANDS = ("ADD", "DEL", "CHECK", "VERSION", "GC", "STATUS")

# Which CNI_* variables each command requires (spec 1.1.0, "Parameters"; DEL may come
# without CNI_NETNS when the namespace is already gone).
REQUIRED_ENV = {
    "CNI_CONTAINERID": ("ADD", "DEL", "CHECK"),
    "CNI_NETNS": ("ADD", "CHECK"),
    "CNI_IFNAME": ("ADD", "DEL", "CHECK"),
    "CNI_PATH": ("ADD", "DEL", "CHECK", "GC", "STATUS"),
}

ABOUT = ("humanz-cni: a CNI bridge plugin with built-in IPAM, in standard-library Python\n"
         "CNI protocol versions supported: %s\n"
         "Run by a container runtime with CNI_COMMAND and the network config on stdin.\n"
         % ", ".join(_version.SUPPORTED))


class Request:
    """One invocation: the command, the CNI_* environment, and the config on stdin."""

    __slots__ = ("command", "container_id", "netns", "ifname", "args", "path", "stdin",
                 "config", "cni_version", "env")

    def __init__(self, command: str, env: Mapping[str, str], stdin: bytes) -> None:
        self.command = command
        self.env = dict(env)
        self.container_id = env.get("CNI_CONTAINERID", "")
        self.netns = env.get("CNI_NETNS", "")
        self.ifname = env.get("CNI_IFNAME", "")
        self.path = [p for p in env.get("CNI_PATH", "").split(":") if p]
        self.stdin = stdin
        self.args: CniArgs | None = None
        self.config: dict[str, Any] = {}
        self.cni_version = _version.CURRENT


def main() -> int:
    """The plugin's entry point; returns the process exit status."""
    command = os.environ.get("CNI_COMMAND", "")
    if not command:
        sys.stderr.write(ABOUT)
        return 0
    if command == "VERSION":
        return _emit(_version.VERSION_ANSWER)
    try:
        return run(command, os.environ, _read_stdin())
    except Exception as exc:  # last resort: run() itself failed; still answer in CNI terms
        return _fail(CNIError(INTERNAL, "internal error in humanz (a bug)",
                              "%s: %s" % (type(exc).__name__, exc)), _version.CURRENT)


def run(command: str, env: Mapping[str, str], stdin: bytes | None) -> int:
    """Run one non-VERSION command and write its output; returns the exit status."""
    import time
    started = time.monotonic()
    req = Request(command, env, stdin or b"")
    raw_config = _try_decode(req.stdin)
    req.cni_version = _peek_version(raw_config)
    log_file, log_level, network = _log_target(raw_config)
    conf: NetConf | None = None
    extra: dict[str, Any] = {}
    try:
        if stdin is None:
            raise CNIError(IO_FAILURE, "cannot read the network config from stdin")
        conf = prepare(req, raw_config)
        log_file, log_level = conf.log_file, conf.log_level
        output = dispatch(req, conf, extra)
    except CNIError as err:
        _log(log_file, log_level, started, req, network, err, extra)
        return _fail(err, req.cni_version)
    except Exception as exc:  # a bug: coded error out, traceback to the log only
        import traceback
        bug = CNIError(INTERNAL, "internal error in humanz (a bug): see the log file %s"
                       % (log_file or "(logging disabled)"), "%s: %s" % (type(exc).__name__, exc))
        _log(log_file, log_level, started, req, network, bug, extra, traceback.format_exc())
        return _fail(bug, req.cni_version)
    _log(log_file, log_level, started, req, network, None, extra)
    return _emit(output) if output is not None else 0


def prepare(req: Request, raw_config: object) -> NetConf:
    """Check the environment and the config for ``req.command``; CNIError on any problem."""
    _check_env(req)
    if isinstance(raw_config, _DecodeFailure):
        raise CNIError(DECODING_FAILURE, "cannot decode the network config: %s"
                       % raw_config.reason)
    if not isinstance(raw_config, dict):
        raise CNIError(DECODING_FAILURE, "the network config must be a JSON object")
    req.config = raw_config
    cni_version = raw_config.get("cniVersion")
    if cni_version is None:
        cni_versions = raw_config.get("cniVersions")
        cni_version = (_version.choose(cni_versions) if cni_versions is not None
                       else _version.IMPLICIT)
    req.cni_version = _version.check_supported(cni_version)
    _version.check_command_allowed(req.command, req.cni_version)
    from humanz.cni import args as _args
    from humanz.cni import config as _config
    req.args = _parse_args(req, _args)
    return _config.parse(raw_config, req.cni_version, req.command, req.args)


def dispatch(req: Request, conf: NetConf, extra: dict[str, Any]) -> str | None:
    """Run the command (ADD, DEL: humanz.bridge; CHECK, GC, STATUS: humanz.upkeep); the
    text to print on success, if any."""
    if req.command in ("ADD", "DEL"):
        from humanz import bridge  # type: ignore[attr-defined, unused-ignore]
        if req.command == "DEL":
            bridge.cmd_del(req, conf)
            return None
        result = bridge.cmd_add(req, conf)
        extra["ips"] = [ip.address for ip in result.ips]
        from humanz.cni.jsonlite import dumps
        return dumps(result.to_dict(conf.cni_version))
    from humanz import upkeep  # type: ignore[attr-defined, unused-ignore]
    if req.command == "CHECK":
        upkeep.cmd_check(req, conf)
    elif req.command == "GC":
        extra["released"] = upkeep.cmd_gc(req, conf)
    elif req.command == "STATUS":
        upkeep.cmd_status(req, conf)
    return None


# ---- the steps of run() ----------------------------------------------------------------------

def _check_env(req: Request) -> None:
    from humanz.cni.config import ifname_problem, valid_name
    if req.command not in COMMANDS:
        raise CNIError(INVALID_ENV, "CNI_COMMAND: unknown command %r" % req.command,
                       "expected one of %s" % ", ".join(COMMANDS))
    missing = [name for name, commands in REQUIRED_ENV.items()
               if req.command in commands and not req.env.get(name)]
    if missing:
        raise CNIError(INVALID_ENV, "required environment variables missing: %s"
                       % ", ".join(missing))
    if req.command in ("ADD", "DEL", "CHECK"):
        if not valid_name(req.container_id):
            raise CNIError(INVALID_ENV, "CNI_CONTAINERID: %r contains invalid characters"
                           % req.container_id, "must match ^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$")
        problem = ifname_problem(req.ifname)
        if problem:
            raise CNIError(INVALID_ENV, "CNI_IFNAME: %s" % problem)


def _parse_args(req: Request, module: Any) -> CniArgs:
    """CNI_ARGS; DEL and GC ignore a malformed one (they must clean up whatever it says)."""
    text = req.env.get("CNI_ARGS", "")
    try:
        parsed: CniArgs = module.parse(text)
    except CNIError:
        if req.command in ("DEL", "GC"):
            parsed = module.parse("")
        else:
            raise
    return parsed


class _DecodeFailure:
    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _read_stdin() -> bytes | None:
    try:
        return sys.stdin.buffer.read()
    except (OSError, ValueError, AttributeError):
        return None


def _try_decode(data: bytes) -> object:
    from humanz.cni.jsonlite import loads
    try:
        return loads(data)
    except (ValueError, RecursionError) as err:
        return _DecodeFailure(str(err) if data.strip() else "stdin is empty")


def _peek_version(raw: object) -> str:
    """The version to write errors in: the config's, when it is one we speak."""
    if isinstance(raw, dict) and raw.get("cniVersion") in _version.SUPPORTED:
        return raw["cniVersion"]  # type: ignore[no-any-return]
    return _version.CURRENT


def _log_target(raw: object) -> tuple[str, str, str | None]:
    """logFile, logLevel and network name read leniently, so even a config that fails
    validation is logged where its author looks."""
    from humanz.cni.config import DEFAULT_LOG_FILE
    if not isinstance(raw, dict):
        return DEFAULT_LOG_FILE, "info", None
    log_file = raw.get("logFile")
    level = raw.get("logLevel")
    name = raw.get("name")
    return (log_file if isinstance(log_file, str) else DEFAULT_LOG_FILE,
            level if isinstance(level, str) else "info",
            name if isinstance(name, str) else None)


def _log(log_file: str, level: str, started: float, req: Request, network: str | None,
         err: CNIError | None, extra: dict[str, Any], tb: str | None = None) -> None:
    from humanz import log
    try:
        log.operation(log_file, level, started, req.command, req.env, network, err, extra, tb)
    except Exception:
        pass  # a log line must never turn a finished operation into a failure


def _emit(text: str) -> int:
    try:
        sys.stdout.write(text)
        sys.stdout.write("\n")
        sys.stdout.flush()
    except (OSError, ValueError):
        return 1  # nobody is reading our answer: nothing more useful to do
    return 0


def _fail(err: CNIError, cni_version: str) -> int:
    from humanz.cni.jsonlite import dumps
    _emit(dumps(err.to_dict(cni_version)))
    return 1
