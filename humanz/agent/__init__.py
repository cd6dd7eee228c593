"""The humanz node agent: ``python3 -m humanz.agent`` runs on every node of a Kubernetes cluster.

It watches the cluster's Node objects and keeps this node in the state they describe: the CNI
configuration for its own pod CIDRs, the plugin installed for the host's Python, a route to every
other node's pod CIDRs via that node's InternalIP, and humanz's nftables table (forward accept and
masquerade for pod traffic leaving the cluster network).

Modules, one job each:
  model      Node: the few fields of a Kubernetes Node the agent reads; CIDR/address helpers
  kubeconfig where the API server is and how to authenticate (in-cluster or a kubeconfig file)
  kubeyaml   the small YAML subset kubeconfig files are written in
  kube       the HTTP(S) client: list nodes, watch them, reconnect, relist on 410 Gone
  hostfiles  the host's files: the conflist, the plugin file, the host's Python
  masquerade the agent's nftables chains: forward accept and masquerade for the pod network
  reconcile  desired state from the node set, and the actions that reach it
  __main__   flags, logging, the health endpoint, the main loop

The agent is a long-running daemon, not the per-pod plugin, so it may use ``threading``,
``logging`` and ``json``; none of these modules is ever imported on the plugin's path.
"""
