"""The agent's nftables rules: forward accept and masquerade for the pod network, kept level-based.

In humanz's own table ``inet humanz`` the agent owns two base chains (other humanz code may own
other chains of the same table; the agent never touches them):

- ``agent-postrouting`` (type nat, hook postrouting, priority srcnat = 100): for each cluster
  CIDR, ``ip saddr CIDR ip daddr != CIDR counter masquerade`` — pod traffic leaving the cluster
  network leaves with the node's address; traffic between pods (on any node) keeps its own;
- ``agent-forward`` (type filter, hook forward, priority filter = 0, policy accept):
  ``ip saddr CIDR accept`` and ``ip daddr CIDR accept``.

Each rule carries a comment naming what it is for; the set of comments, chain by chain, is the
state compared on every pass. When it differs (first start, cluster CIDR changed, someone
edited the table) both chains are flushed and refilled in ONE transaction, so there is never a
moment without masquerade.

Note: an ``accept`` in this table does not override a ``drop`` in another table at the same
hook (iptables' FORWARD policy DROP, as Docker sets it, still drops): nftables runs every base
chain of a hook and any drop wins.
"""

from __future__ import annotations

from humanz.netlink import nf_uapi as nf
from humanz.netlink import nftables as nft

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol, Sequence

    from humanz.agent.model import Cidr
    from humanz.netlink.codec import Item

    class NftLike(Protocol):
        """The part of humanz.netlink.nftables.Nft the agent uses."""
        def rules(self, family: int, table: str, chain: str | None = ...) -> list[nft.Rule]: ...
        def chains(self, family: int = ..., table: str | None = ...) -> list[nft.Chain]: ...
        def commit(self, ops: Sequence[nft.Op]) -> None: ...

__all__ = ["TABLE", "POSTROUTING", "FORWARD", "desired", "ensure"]

TABLE = "humanz"
FAMILY = nf.NFPROTO_INET
POSTROUTING = "agent-postrouting"
FORWARD = "agent-forward"

def _match(cidr: Cidr, field: str, op: int) -> list[Item]:
    """``ip saddr|daddr (==|!=) cidr``."""
    import _socket
    af = _socket.AF_INET if cidr.family == 4 else _socket.AF_INET6
    return nft.match_ip(cidr.family, field, _socket.inet_pton(af, cidr.address),
                        cidr.prefixlen, op)


def desired(cluster_cidrs: Sequence[Cidr]) -> dict[str, list[tuple[str, list[Item]]]]:
    """chain → [(comment, expressions)] for the cluster CIDRs."""
    post: list[tuple[str, list[Item]]] = []
    forward: list[tuple[str, list[Item]]] = []
    for cidr in cluster_cidrs:
        family = nft.match_ip_version(cidr.family)
        post.append(("humanz agent: masquerade %s leaving the cluster network" % cidr,
                     family + _match(cidr, "saddr", nf.NFT_CMP_EQ)
                     + _match(cidr, "daddr", nf.NFT_CMP_NEQ) + [nft.counter(), nft.masq()]))
        forward.append(("humanz agent: forward from %s" % cidr,
                        family + _match(cidr, "saddr", nf.NFT_CMP_EQ)
                        + [nft.immediate_verdict(nf.NF_ACCEPT)]))
        forward.append(("humanz agent: forward to %s" % cidr,
                        family + _match(cidr, "daddr", nf.NFT_CMP_EQ)
                        + [nft.immediate_verdict(nf.NF_ACCEPT)]))
    return {POSTROUTING: post, FORWARD: forward}


def _chain_ops() -> list[nft.Op]:
    return [nft.add_table(FAMILY, TABLE),
            nft.add_chain(FAMILY, TABLE, POSTROUTING, nf.NF_INET_POST_ROUTING,
                          nf.NF_IP_PRI_NAT_SRC, "nat"),
            nft.add_chain(FAMILY, TABLE, FORWARD, nf.NF_INET_FORWARD, nf.NF_IP_PRI_FILTER,
                          "filter", nf.NF_ACCEPT)]


def ensure(client: NftLike, cluster_cidrs: Sequence[Cidr]) -> bool:
    """Make the agent's chains hold exactly the desired rules; True if anything was changed."""
    want = desired(cluster_cidrs)
    have: dict[str, list[str | None]] = {POSTROUTING: [], FORWARD: []}
    chains = {c.name for c in client.chains(FAMILY, TABLE)}
    for rule in client.rules(FAMILY, TABLE):
        if rule.chain in have:
            have[rule.chain].append(rule.comment)
    if chains >= set(want) and all(have[c] == [comment for comment, _ in want[c]] for c in want):
        return False
    ops = _chain_ops()
    for chain, rules in want.items():
        if chain in chains:
            ops.append(nft.flush_chain(FAMILY, TABLE, chain))
        ops += [nft.add_rule(FAMILY, TABLE, chain, exprs, comment) for comment, exprs in rules]
    client.commit(ops)
    return True
