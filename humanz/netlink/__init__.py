"""humanz.netlink: a small, typed rtnetlink library over raw sockets, standard library only.

Layers, each usable on its own (import the one you need; this package imports nothing):

- :mod:`.uapi`     the kernel's structures and attribute sets, as tables (numbers from
                   /usr/include/linux), and ``ProtocolSchema``: one protocol's vocabulary
                   (``uapi.ROUTE``; ``nf_uapi.NETFILTER`` for nf_tables)
- :mod:`.codec`    bytes ⇄ objects, sans-IO
- :mod:`.explain`  annotated byte-by-byte dumps of messages
- :mod:`.errors`   DecodeError, NetlinkError
- :mod:`.nlsocket` a netlink socket of one protocol (NETLINK_ROUTE by default): requests,
                   ACKs, dumps, kernel errors
- :mod:`.netns`    network namespaces without forking
- :mod:`.rtnl`     links, bridge ports, addresses, routes: ``Rtnl``, ``Link``, ``Address``,
                   ``Route``
- :mod:`.nf_uapi`, :mod:`.nftables`  nf_tables over NETLINK_NETFILTER: tables, chains, rules
                   in atomic batches (``Nft``)
"""
