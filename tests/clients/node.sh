#!/bin/sh
# Makes a private mount namespace look like a Kubespray node for containerd, then runs CMD in it.
# Run through `unshare --mount --propagation private`, so none of these mounts reaches the host:
#
#   unshare --mount --propagation private tests/clients/node.sh NODE_ETC_CONTAINERD ROOT -- CMD...
#
# - NODE_ETC_CONTAINERD (the demo node's etc/containerd, where the repos playbook put the registry
#   CA) read-only on /etc/containerd: the paths Kubespray's hosts.toml names resolve as on a node;
# - tmpfs on /run and /opt: what containerd keeps at fixed paths (NRI's socket, the opt plugin's
#   /opt/containerd) stays in the namespace;
# - tmpfs on ROOT (containerd's root): images and snapshots go when the namespace goes.
set -eu
if [ $# -lt 4 ] || [ "$3" != -- ]; then echo "usage: $0 NODE_ETC_CONTAINERD ROOT -- CMD..." >&2; exit 2; fi
node_etc=$1 root=$2
shift 3
[ -d "$node_etc" ] || { echo "node.sh: no $node_etc (run the repos playbook)" >&2; exit 2; }
[ -d /etc/containerd ] || { echo "node.sh: /etc/containerd is missing on this host: it is the mount point (apt-get install containerd)" >&2; exit 2; }
mount --bind -o ro "$node_etc" /etc/containerd
mount -t tmpfs -o mode=0755 airgap-clients-run /run
mount -t tmpfs -o mode=0755 airgap-clients-opt /opt
mount -t tmpfs -o mode=0711 airgap-clients-root "$root"
exec "$@"
