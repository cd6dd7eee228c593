"""The CNI spec versions humanz speaks, how to compare them, and the VERSION answer.

Kept tiny on purpose: VERSION (which runtimes call before every ADD and DEL) imports this
module and nothing heavier.
"""

from __future__ import annotations

from humanz.cni.errors import INCOMPATIBLE_VERSION, CNIError

SUPPORTED = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
CURRENT = "1.1.0"
# A config without cniVersion is 0.1.0: that field did not exist before 0.2.0.
IMPLICIT = "0.1.0"

# Which spec version introduced each command (spec 1.1.0, "CNI operations").
COMMAND_SINCE = {"CHECK": "0.4.0", "GC": "1.1.0", "STATUS": "1.1.0"}

VERSION_ANSWER = '{"cniVersion":"%s","supportedVersions":[%s]}' % (
    CURRENT, ",".join('"%s"' % v for v in SUPPORTED))


def parse(text: str) -> tuple[int, int, int]:
    """``"0.3.1"`` → ``(0, 3, 1)``; ``ValueError`` unless it is three dot-separated numbers."""
    parts = text.split(".") if isinstance(text, str) else []
    if len(parts) != 3 or not all(p.isdigit() and p.isascii() for p in parts):
        raise ValueError("%r is not a version of the form X.Y.Z" % (text,))
    return int(parts[0]), int(parts[1]), int(parts[2])


def at_least(text: str, minimum: str) -> bool:
    """True when version ``text`` is ``minimum`` or newer (both must parse)."""
    return parse(text) >= parse(minimum)


def check_supported(text: object) -> str:
    """Return ``text`` if humanz speaks that version; otherwise CNIError code 1."""
    if not isinstance(text, str) or text not in SUPPORTED:
        raise CNIError(INCOMPATIBLE_VERSION, "incompatible CNI versions",
                       "config is %s, plugin supports %s" % (_show(text), ", ".join(SUPPORTED)))
    return text


def check_command_allowed(command: str, cni_version: str) -> None:
    """CHECK needs 0.4.0, GC and STATUS need 1.1.0: refuse them (code 1) in older configs."""
    since = COMMAND_SINCE.get(command)
    if since is not None and not at_least(cni_version, since):
        raise CNIError(INCOMPATIBLE_VERSION,
                       "config version %s does not allow %s" % (cni_version, command),
                       "%s needs cniVersion %s or later" % (command, since))


def choose(cni_versions: object) -> str:
    """The version to use for a conflist's ``cniVersions`` list: the newest one we speak.

    Raises CNIError code 1 when the list shares no version with humanz, 7 when it is not a
    list of strings.
    """
    if not isinstance(cni_versions, list) or not all(isinstance(v, str) for v in cni_versions):
        from humanz.cni.errors import INVALID_CONFIG
        raise CNIError(INVALID_CONFIG, "cniVersions: must be a list of version strings")
    ours = [v for v in cni_versions if v in SUPPORTED]
    if not ours:
        raise CNIError(INCOMPATIBLE_VERSION, "incompatible CNI versions",
                       "config lists %s, plugin supports %s"
                       % (", ".join(cni_versions) or "nothing", ", ".join(SUPPORTED)))
    newest: str = max(ours, key=parse)
    return newest


def _show(value: object) -> str:
    return '"%s"' % value if isinstance(value, str) else repr(value)
