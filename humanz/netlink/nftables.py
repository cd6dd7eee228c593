"""nftables over netlink (NETLINK_NETFILTER): atomic batches of tables, chains and rules.

No ``nft`` binary: the messages are encoded with the same codec as rtnetlink, given the
protocol schema :data:`humanz.netlink.nf_uapi.NETFILTER`. How nf_tables is spoken:

- **Changes go in a batch**: ``NFNL_MSG_BATCH_BEGIN`` (res_id = NFNL_SUBSYS_NFTABLES), the
  NEW/DEL messages, ``NFNL_MSG_BATCH_END``, in one datagram. The kernel applies all of them or
  none (a transaction); every message asks for an ACK, so an error names the message it hit.
  The kernel handles the datagram inside our ``sendto``: when it returns, every answer is
  already queued, so they are read without blocking.
- **A rule is a list of expressions** that load into registers and act on them: ``payload``
  (bytes of a header → register), ``meta`` (packet metadata → register), ``bitwise`` (mask a
  register), ``cmp`` (compare a register, stop the rule if false), ``immediate`` (set the
  verdict register: accept, drop, jump), ``masq`` (masquerade), ``counter``.
- **Comments** live in NFTA_RULE_USERDATA, opaque to the kernel, as type-length-value records
  in libnftnl's layout (type 0 = comment: one byte type, one byte length, NUL-terminated text),
  so ``nft list ruleset`` shows them. humanz writes there which network and attachment a rule
  belongs to.

Reading (``tables``, ``chains``, ``rules``) uses GET dumps, decoded into small objects.
"""

from __future__ import annotations

from errno import EAGAIN

from . import codec, nlsocket, uapi
from . import nf_uapi as nf
from .errors import NetlinkError
from .nf_uapi import NETFILTER

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable, Sequence

    from .codec import Attrs, Item
    from .nlsocket import Trace

__all__ = ["NfSocket", "Op", "Nft", "Table", "Chain", "Rule", "add_table", "del_table",
           "add_chain", "del_chain", "flush_chain", "add_rule", "del_rule", "payload", "meta",
           "cmp", "bitwise", "immediate_verdict", "masq", "counter", "match_ip_version",
           "match_ip", "IP_LAYOUT", "comment_userdata",
           "comment_of", "batch_bytes"]

NFTNL_UDATA_RULE_COMMENT = 0        # libnftnl's rule userdata TLV type for a comment
COMMENT_MAX = 127                   # nft's limit (NFT_USERDATA_MAXLEN is 256 for the whole TLV)


# --------------------------------------------------------------------------------------------
# Expressions: each is one NFTA_LIST_ELEM item for NFTA_RULE_EXPRESSIONS
# --------------------------------------------------------------------------------------------

def _expr(name: str, data: list[Item]) -> Item:
    return ("NFTA_LIST_ELEM", [("NFTA_EXPR_NAME", name), ("NFTA_EXPR_DATA", data)])


def payload(base: int, offset: int, length: int, dreg: int = nf.NFT_REG_1) -> Item:
    """Load ``length`` bytes at ``offset`` of a header (NFT_PAYLOAD_*_HEADER) into ``dreg``."""
    return _expr("payload", [("NFTA_PAYLOAD_DREG", dreg), ("NFTA_PAYLOAD_BASE", base),
                             ("NFTA_PAYLOAD_OFFSET", offset),
                             ("NFTA_PAYLOAD_LEN", length)])


def meta(key: int, dreg: int = nf.NFT_REG_1) -> Item:
    """Load packet metadata (NFT_META_*) into ``dreg``."""
    return _expr("meta", [("NFTA_META_DREG", dreg), ("NFTA_META_KEY", key)])


def cmp(op: int, data: bytes, sreg: int = nf.NFT_REG_1) -> Item:
    """Compare ``sreg`` with ``data`` (NFT_CMP_*); the rule stops here when false."""
    return _expr("cmp", [("NFTA_CMP_SREG", sreg), ("NFTA_CMP_OP", op),
                         ("NFTA_CMP_DATA", [("NFTA_DATA_VALUE", data)])])


def bitwise(mask: bytes, xor: bytes | None = None, sreg: int = nf.NFT_REG_1,
            dreg: int = nf.NFT_REG_1) -> Item:
    """``dreg = (sreg & mask) ^ xor`` over len(mask) bytes (a prefix match is a mask + cmp)."""
    return _expr("bitwise", [("NFTA_BITWISE_SREG", sreg),
                             ("NFTA_BITWISE_DREG", dreg),
                             ("NFTA_BITWISE_LEN", len(mask)),
                             ("NFTA_BITWISE_MASK", [("NFTA_DATA_VALUE", mask)]),
                             ("NFTA_BITWISE_XOR", [("NFTA_DATA_VALUE",
                                                    xor or bytes(len(mask)))])])


def immediate_verdict(code: int, chain: str | None = None) -> Item:
    """Set the verdict: NF_ACCEPT, NF_DROP, or NFT_JUMP/NFT_GOTO with ``chain``."""
    verdict: list[Item] = [("NFTA_VERDICT_CODE", code)]
    if chain is not None:
        verdict.append(("NFTA_VERDICT_CHAIN", chain))
    return _expr("immediate", [("NFTA_IMMEDIATE_DREG", nf.NFT_REG_VERDICT),
                               ("NFTA_IMMEDIATE_DATA", [("NFTA_DATA_VERDICT", verdict)])])


def masq() -> Item:
    """Masquerade: source NAT to the address of the interface the packet leaves by."""
    return _expr("masq", [])


def counter() -> Item:
    """Count packets and bytes (read back with ``rules()``)."""
    return _expr("counter", [("NFTA_COUNTER_BYTES", 0), ("NFTA_COUNTER_PACKETS", 0)])


# Matching IP packets in an inet-family chain. Per IP version: the nfproto value, and where
# the source and destination addresses sit in the network header (RFC 791: 12 and 16;
# RFC 8200: 8 and 24).
IP_LAYOUT = {4: (nf.NFPROTO_IPV4, 12, 16), 6: (nf.NFPROTO_IPV6, 8, 24)}


def match_ip_version(version: int) -> list[Item]:
    """``meta nfproto ipv4|ipv6``: the rule applies to one IP version only."""
    return [meta(nf.NFT_META_NFPROTO), cmp(nf.NFT_CMP_EQ, bytes([IP_LAYOUT[version][0]]))]


def match_ip(version: int, field: str, address: bytes, prefixlen: int | None = None,
             op: int = nf.NFT_CMP_EQ) -> list[Item]:
    """``ip saddr|daddr (==|!=) address[/prefixlen]`` (``field`` is "saddr" or "daddr";
    ``address`` packed). Without ``prefixlen`` the whole address is compared; with it the
    loaded address is masked first (``bitwise``), then compared with the network."""
    offset = IP_LAYOUT[version][1 if field == "saddr" else 2]
    exprs = [payload(nf.NFT_PAYLOAD_NETWORK_HEADER, offset, len(address))]
    if prefixlen is not None:
        bits = len(address) * 8
        mask = ((1 << bits) - 1) ^ ((1 << (bits - prefixlen)) - 1)
        network = int.from_bytes(address, "big") & mask
        address = network.to_bytes(len(address), "big")
        exprs.append(bitwise(mask.to_bytes(len(address), "big")))
    return exprs + [cmp(op, address)]


def comment_userdata(text: str) -> bytes:
    """NFTA_RULE_USERDATA holding a comment, in the TLV layout nft reads."""
    raw = text.encode("utf-8") + b"\0"
    if len(raw) > COMMENT_MAX + 1:
        raise ValueError("rule comment longer than %d bytes: %r" % (COMMENT_MAX, text))
    return bytes([NFTNL_UDATA_RULE_COMMENT, len(raw)]) + raw


def comment_of(userdata: bytes | None) -> str | None:
    """The comment in a rule's userdata TLVs, or None (other TLV types are skipped)."""
    pos, data = 0, userdata or b""
    while pos + 2 <= len(data):
        kind, length = data[pos], data[pos + 1]
        value = data[pos + 2:pos + 2 + length]
        if len(value) < length:
            return None
        if kind == NFTNL_UDATA_RULE_COMMENT:
            return value.rstrip(b"\0").decode("utf-8", "replace")
        pos += 2 + length
    return None


# --------------------------------------------------------------------------------------------
# Operations: one message each, collected into a batch
# --------------------------------------------------------------------------------------------

class Op:
    """One message of a batch: type, extra flags, nfgenmsg family, attributes, description."""

    __slots__ = ("msg", "flags", "family", "attrs", "doing")

    def __init__(self, msg: int, flags: int, family: int, attrs: list[Item], doing: str) -> None:
        self.msg = msg
        self.flags = flags
        self.family = family
        self.attrs = attrs
        self.doing = doing

    def encode(self, seq: int) -> bytes:
        return codec.encode(nf.nft_type(self.msg),
                            uapi.NLM_F_REQUEST | uapi.NLM_F_ACK | self.flags, seq,
                            {"nfgen_family": self.family, "version": nf.NFNETLINK_V0},
                            self.attrs, protocol=NETFILTER)


def _family_name(family: int) -> str:
    return nf.NFPROTO_NAMES.get(family, str(family))


def add_table(family: int, name: str) -> Op:
    """Create table ``name`` (no error if it exists: NLM_F_CREATE without NLM_F_EXCL)."""
    return Op(nf.NFT_MSG_NEWTABLE, uapi.NLM_F_CREATE, family, [("NFTA_TABLE_NAME", name)],
              "add table %s %s" % (_family_name(family), name))


def del_table(family: int, name: str) -> Op:
    """Delete table ``name`` with its chains and rules."""
    return Op(nf.NFT_MSG_DELTABLE, 0, family, [("NFTA_TABLE_NAME", name)],
              "delete table %s %s" % (_family_name(family), name))


def add_chain(family: int, table: str, name: str, hook: int | None = None, priority: int = 0,
              chain_type: str = "filter", policy: int | None = None) -> Op:
    """Create a chain; with ``hook`` (NF_INET_*) a base chain of ``chain_type`` at ``priority``."""
    attrs: list[Item] = [("NFTA_CHAIN_TABLE", table), ("NFTA_CHAIN_NAME", name)]
    doing = "add chain %s %s %s" % (_family_name(family), table, name)
    if hook is not None:
        attrs.append(("NFTA_CHAIN_HOOK", [("NFTA_HOOK_HOOKNUM", hook),
                                          ("NFTA_HOOK_PRIORITY", priority)]))
        attrs.append(("NFTA_CHAIN_TYPE", chain_type))
        if policy is not None:
            attrs.append(("NFTA_CHAIN_POLICY", policy))
        doing += " (type %s hook %s priority %d)" % (chain_type,
                                                     nf.HOOK_NAMES.get(hook, hook), priority)
    return Op(nf.NFT_MSG_NEWCHAIN, uapi.NLM_F_CREATE, family, attrs, doing)


def del_chain(family: int, table: str, name: str) -> Op:
    return Op(nf.NFT_MSG_DELCHAIN, 0, family, [("NFTA_CHAIN_TABLE", table),
                                               ("NFTA_CHAIN_NAME", name)],
              "delete chain %s %s %s" % (_family_name(family), table, name))


def flush_chain(family: int, table: str, chain: str) -> Op:
    """Delete every rule of a chain (a DELRULE naming the chain and no rule)."""
    return Op(nf.NFT_MSG_DELRULE, 0, family, [("NFTA_RULE_TABLE", table),
                                              ("NFTA_RULE_CHAIN", chain)],
              "flush chain %s %s %s" % (_family_name(family), table, chain))


def add_rule(family: int, table: str, chain: str, exprs: Sequence[Item],
             comment: str | None = None) -> Op:
    """Append a rule made of ``exprs`` to a chain, with an optional comment."""
    attrs: list[Item] = [("NFTA_RULE_TABLE", table), ("NFTA_RULE_CHAIN", chain),
                         ("NFTA_RULE_EXPRESSIONS", list(exprs))]
    if comment is not None:
        attrs.append(("NFTA_RULE_USERDATA", comment_userdata(comment)))
    return Op(nf.NFT_MSG_NEWRULE, uapi.NLM_F_CREATE | uapi.NLM_F_APPEND, family, attrs,
              "add rule to %s %s %s%s" % (_family_name(family), table, chain,
                                          " (%s)" % comment if comment else ""))


def del_rule(family: int, table: str, chain: str, handle: int) -> Op:
    return Op(nf.NFT_MSG_DELRULE, 0, family, [("NFTA_RULE_TABLE", table),
                                              ("NFTA_RULE_CHAIN", chain),
                                              ("NFTA_RULE_HANDLE", handle)],
              "delete rule %d of %s %s %s" % (handle, _family_name(family), table, chain))


def _marker(msg_type: int, seq: int) -> bytes:
    """NFNL_MSG_BATCH_BEGIN/END: nfgenmsg with res_id = the subsystem the batch is for."""
    return codec.encode(msg_type, uapi.NLM_F_REQUEST, seq,
                        {"nfgen_family": nf.NFPROTO_UNSPEC, "version": nf.NFNETLINK_V0,
                         "res_id": nf.NFNL_SUBSYS_NFTABLES}, protocol=NETFILTER)


def batch_bytes(ops: Sequence[Op], first_seq: int) -> tuple[bytes, list[int]]:
    """The datagram of a transaction: BEGIN, one message per op, END; and the ops' seqs."""
    seqs = [first_seq + 1 + i for i in range(len(ops))]
    parts = [_marker(nf.NFNL_MSG_BATCH_BEGIN, first_seq)]
    parts += [op.encode(seq) for op, seq in zip(ops, seqs)]
    parts.append(_marker(nf.NFNL_MSG_BATCH_END, first_seq + len(ops) + 1))
    return b"".join(parts), seqs


# --------------------------------------------------------------------------------------------
# The socket
# --------------------------------------------------------------------------------------------

class NfSocket(nlsocket.NetlinkSocket):
    """A NETLINK_NETFILTER socket: the core socket's dumps and errors, plus batches."""

    __slots__ = ()

    def __init__(self, label: str = "", trace: Trace | None = None) -> None:
        super().__init__(label, trace, protocol=NETFILTER)

    def transaction(self, ops: Sequence[Op]) -> None:
        """Apply ``ops`` atomically; NetlinkError (naming the failing op) if the kernel refuses."""
        if not ops:
            return
        data, seqs = batch_bytes(ops, self.next_seqs(len(ops) + 2))
        self.send_bytes(data)
        answers: dict[int, codec.Message] = {}
        for message in self.drain():
            if message.type == uapi.NLMSG_ERROR and message.seq in seqs:
                answers.setdefault(message.seq, message)
        for op, seq in zip(ops, seqs):
            answer = answers.get(seq)
            if answer is not None:
                nlsocket.raise_if_error(answer, op.doing, op.encode(seq))
        missing = [op.doing for op, seq in zip(ops, seqs) if seq not in answers]
        if missing:
            raise NetlinkError(EAGAIN, missing[0], "no acknowledgement from the kernel")


# --------------------------------------------------------------------------------------------
# Objects read back
# --------------------------------------------------------------------------------------------

class Table:
    __slots__ = ("family", "name", "handle", "flags", "use")

    def __init__(self, m: codec.Message) -> None:
        assert m.fixed is not None
        self.family: int = m.fixed["nfgen_family"]
        self.name: str = m.attrs.get_str("NFTA_TABLE_NAME") or ""
        self.handle: int | None = m.attrs.get_int("NFTA_TABLE_HANDLE")
        self.flags: int = m.attrs.get_int("NFTA_TABLE_FLAGS") or 0
        self.use: int = m.attrs.get_int("NFTA_TABLE_USE") or 0

    def __repr__(self) -> str:
        return "Table(%s %s)" % (_family_name(self.family), self.name)


class Chain:
    __slots__ = ("family", "table", "name", "handle", "hook", "priority", "type", "policy")

    def __init__(self, m: codec.Message) -> None:
        assert m.fixed is not None
        a = m.attrs
        self.family: int = m.fixed["nfgen_family"]
        self.table: str = a.get_str("NFTA_CHAIN_TABLE") or ""
        self.name: str = a.get_str("NFTA_CHAIN_NAME") or ""
        self.handle: int | None = a.get_int("NFTA_CHAIN_HANDLE")
        hook = a.get_attrs("NFTA_CHAIN_HOOK")
        self.hook: int | None = hook.get_int("NFTA_HOOK_HOOKNUM") if hook else None
        self.priority: int | None = hook.get_int("NFTA_HOOK_PRIORITY") if hook else None
        self.type: str | None = a.get_str("NFTA_CHAIN_TYPE")
        self.policy: int | None = a.get_int("NFTA_CHAIN_POLICY")

    def __repr__(self) -> str:
        return "Chain(%s %s %s hook=%s prio=%s)" % (_family_name(self.family), self.table,
                                                    self.name, self.hook, self.priority)


class Rule:
    """A rule: where it is, its handle, its comment and its expressions as (name, data attrs)."""

    __slots__ = ("family", "table", "chain", "handle", "comment", "exprs")

    def __init__(self, m: codec.Message) -> None:
        assert m.fixed is not None
        a = m.attrs
        self.family: int = m.fixed["nfgen_family"]
        self.table: str = a.get_str("NFTA_RULE_TABLE") or ""
        self.chain: str = a.get_str("NFTA_RULE_CHAIN") or ""
        self.handle: int = a.get_int("NFTA_RULE_HANDLE") or 0
        userdata = a.get("NFTA_RULE_USERDATA")
        self.comment: str | None = comment_of(userdata if isinstance(userdata, bytes) else None)
        self.exprs: list[tuple[str, Attrs]] = []
        for elem in a.get_attrs("NFTA_RULE_EXPRESSIONS") or []:
            if isinstance(elem.value, codec.Attrs):
                data = elem.value.get_attrs("NFTA_EXPR_DATA")
                self.exprs.append((elem.value.get_str("NFTA_EXPR_NAME") or "?",
                                   data if data is not None else codec.Attrs()))

    def expr_names(self) -> list[str]:
        return [name for name, _ in self.exprs]

    def counter(self) -> tuple[int, int] | None:
        """(packets, bytes) of the rule's counter expression, if it has one."""
        for name, data in self.exprs:
            if name == "counter":
                return (data.get_int("NFTA_COUNTER_PACKETS") or 0,
                        data.get_int("NFTA_COUNTER_BYTES") or 0)
        return None

    def __repr__(self) -> str:
        return "Rule(%s %s %s #%d %s %r)" % (_family_name(self.family), self.table, self.chain,
                                             self.handle, self.expr_names(), self.comment)


class Nft(nlsocket.NamespaceOperations):
    """nf_tables operations on one socket in one network namespace (like Rtnl for routes):
    ``Nft(ns, trace)``."""

    __slots__ = ()
    socket_class = NfSocket
    sock: NfSocket

    def commit(self, ops: Iterable[Op]) -> None:
        """Apply ``ops`` as one transaction: all or nothing."""
        op_list = list(ops)
        for op in op_list:
            op.doing += self._where
        self.sock.transaction(op_list)

    def _dump(self, msg: int, family: int, attrs: list[Item], doing: str) -> list[codec.Message]:
        replies = self.sock.dump(nf.nft_type(msg), {"nfgen_family": family,
                                                    "version": nf.NFNETLINK_V0},
                                 attrs, doing + self._where)
        return [m for m in replies if m.type == nf.nft_type(msg - 1)]   # GETx answers NEWx

    def tables(self, family: int = nf.NFPROTO_UNSPEC) -> list[Table]:
        return [Table(m) for m in self._dump(nf.NFT_MSG_GETTABLE, family, [], "list tables")]

    def chains(self, family: int = nf.NFPROTO_UNSPEC, table: str | None = None) -> list[Chain]:
        found = [Chain(m) for m in self._dump(nf.NFT_MSG_GETCHAIN, family, [], "list chains")]
        return [c for c in found if table is None or c.table == table]

    def rules(self, family: int, table: str, chain: str | None = None) -> list[Rule]:
        """The rules of a table (or one chain of it), in order."""
        attrs: list[Item] = [("NFTA_RULE_TABLE", table)]
        if chain is not None:
            attrs.append(("NFTA_RULE_CHAIN", chain))
        try:
            replies = self._dump(nf.NFT_MSG_GETRULE, family, attrs,
                                 "list rules of %s %s" % (_family_name(family), table))
        except NetlinkError as e:
            if e.errno == 2:                      # ENOENT: no such table or chain
                return []
            raise
        return [Rule(m) for m in replies]
