"""The plugin's ``ipMasq``: one masquerade rule per pod address, named by its attachment.

With ``"ipMasq": true`` traffic from a pod to anything outside the cluster network leaves the
node with the node's address. The rules live in humanz's own nftables table, ``inet humanz``,
in a chain of the plugin's own — ``plugin-postrouting`` (type nat, hook postrouting, priority
srcnat = 100) — next to the node agent's chains, which the plugin never touches (nor does the
agent touch this one). For each address of an attachment, in nft's words::

    ip saddr 100.64.1.5 ip daddr != 100.64.0.0/16 counter masquerade comment "net=N id=C/eth0"

The cluster network is the config's ``network`` when it is of the address's family, else
the address's own subnet. The comment names the network and the attachment (container ID and
interface); it is how DEL, GC and CHECK find the rules again — DEL needs nothing but the
config and CNI_CONTAINERID/CNI_IFNAME, so it works when the pod's namespace is long gone.

humanz.bridge imports this module only when ipMasq is on: nftables costs nothing otherwise.
"""

from __future__ import annotations

from errno import ENOENT

from humanz.netlink import nf_uapi as nf
from humanz.netlink import nftables as nft

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable, Sequence

    from humanz.netlink.codec import Item

__all__ = ["TABLE", "CHAIN", "comment", "add", "remove", "missing", "gc"]

TABLE = "humanz"
CHAIN = "plugin-postrouting"
FAMILY = nf.NFPROTO_INET

def comment(network: str, container_id: str, ifname: str) -> str:
    """``net=<network> id=<container id>/<ifname>``: what every rule of an attachment says.

    nft keeps at most 127 bytes of comment; a longer part is replaced by ``~`` and a digest of
    it, so the comment stays a pure function of the attachment (GC compares them)."""
    net = "net=" + network
    if len(net) > 60:
        net = "net=~" + _digest(network)
    ident = "id=%s/%s" % (container_id, ifname)
    if len((net + " " + ident).encode("utf-8", "surrogateescape")) > nft.COMMENT_MAX:
        ident = "id=~" + _digest("%s/%s" % (container_id, ifname))
    return net + " " + ident


def _digest(text: str) -> str:
    import hashlib
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:40]


# --------------------------------------------------------------------------------------------
# The rule
# --------------------------------------------------------------------------------------------

def _parse(cidr: str) -> tuple[int, bytes, int]:
    """``"100.64.1.5/24"`` → (4, the 4 address bytes, 24)."""
    import _socket
    address, _, plen = cidr.partition("/")
    version = 6 if ":" in address else 4
    af = _socket.AF_INET6 if version == 6 else _socket.AF_INET
    raw = _socket.inet_pton(af, address)
    return version, raw, int(plen) if plen else len(raw) * 8


def cluster_for(address: str, network: str | None) -> str:
    """The destinations that stay unmasqueraded: ``network`` if of the address's family,
    else the address's own subnet."""
    if network is not None and (":" in network) == (":" in address):
        return network
    return address


def rule_exprs(address: str, cluster: str) -> list[Item]:
    """``<family> saddr == address, daddr not in cluster → counter, masquerade``."""
    version, pod, _ = _parse(address)
    cversion, craw, cplen = _parse(cluster)
    if cversion != version:
        raise ValueError("%s and %s are of different IP versions" % (address, cluster))
    return (nft.match_ip_version(version) + nft.match_ip(version, "saddr", pod)
            + nft.match_ip(version, "daddr", craw, cplen, nf.NFT_CMP_NEQ)
            + [nft.counter(), nft.masq()])


def _chain_ops() -> list[nft.Op]:
    """Table and chain, created if missing (NLM_F_CREATE without EXCL: no error if there)."""
    return [nft.add_table(FAMILY, TABLE),
            nft.add_chain(FAMILY, TABLE, CHAIN, nf.NF_INET_POST_ROUTING, nf.NF_IP_PRI_NAT_SRC,
                          "nat")]


# --------------------------------------------------------------------------------------------
# Operations (each on an open Nft client in the node's namespace)
# --------------------------------------------------------------------------------------------

def add(client: nft.Nft, note: str, addresses: Sequence[str], network: str | None) -> None:
    """One rule per pod address ("100.64.1.5/24"), all commented ``note``, in one transaction
    that also replaces rules a previous ADD of the same attachment may have left."""
    ops = _chain_ops()
    ops += [nft.del_rule(FAMILY, TABLE, CHAIN, r.handle)
            for r in client.rules(FAMILY, TABLE, CHAIN) if r.comment == note]
    for address in addresses:
        ops.append(nft.add_rule(FAMILY, TABLE, CHAIN,
                                rule_exprs(address, cluster_for(address, network)), note))
    client.commit(ops)


def remove(client: nft.Nft, notes: Iterable[str]) -> int:
    """Delete every rule of the chain whose comment is in ``notes``; how many there were."""
    wanted = set(notes)
    doomed = [r for r in client.rules(FAMILY, TABLE, CHAIN) if r.comment in wanted]
    _delete(client, doomed)
    return len(doomed)


def gc(client: nft.Nft, network: str, valid: Iterable[tuple[str, str]]) -> list[str]:
    """Delete the rules of ``network`` whose attachment is not in ``valid``; their comments."""
    keep = {comment(network, cid, ifname) for cid, ifname in valid}
    prefix = comment(network, "", "").split(" ", 1)[0] + " "
    doomed = [r for r in client.rules(FAMILY, TABLE, CHAIN)
              if r.comment is not None and r.comment.startswith(prefix)
              and r.comment not in keep]
    _delete(client, doomed)
    return [r.comment or "" for r in doomed]


def missing(client: nft.Nft, note: str, addresses: Sequence[str]) -> list[str]:
    """The addresses that have no rule commented ``note`` matching them as source."""
    sources = set()
    for rule in client.rules(FAMILY, TABLE, CHAIN):
        if rule.comment == note:
            sources.update(_compared_values(rule))
    return [a for a in addresses if _parse(a)[1] not in sources]


def _compared_values(rule: nft.Rule) -> list[bytes]:
    """The values a rule's ``cmp ==`` expressions compare with."""
    values = []
    for name, data in rule.exprs:
        value = data.get_attrs("NFTA_CMP_DATA") if name == "cmp" else None
        if value is not None and data.get_int("NFTA_CMP_OP") == nf.NFT_CMP_EQ:
            raw = value.get("NFTA_DATA_VALUE")
            if isinstance(raw, bytes):
                values.append(raw)
    return values


def _delete(client: nft.Nft, rules: Sequence[nft.Rule]) -> None:
    """Delete ``rules`` in one transaction; a rule already gone is no error."""
    from humanz.netlink.errors import NetlinkError
    if not rules:
        return
    try:
        client.commit([nft.del_rule(FAMILY, TABLE, CHAIN, r.handle) for r in rules])
    except NetlinkError as err:
        if err.errno != ENOENT:
            raise
        for r in rules:          # someone removed one meanwhile: the others one by one
            try:
                client.commit([nft.del_rule(FAMILY, TABLE, CHAIN, r.handle)])
            except NetlinkError as again:
                if again.errno != ENOENT:
                    raise
