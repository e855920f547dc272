# The node probe's `conntrack` container (infra/kubernetes/node-probe.yaml): conntrack-tools, so snatguard
# can list the node's conntrack table over netlink (`conntrack -L -o extended`; /proc/net/nf_conntrack is
# often absent) and count source-NATed flows per pod: the `conntrack` attribution method.
# Build:  docker build -f infra/docker/node-probe.Dockerfile -t ghcr.io/snatguard/node-probe:0.1.0 infra/docker
#
# It runs as root because the kernel checks CAP_NET_ADMIN for every conntrack netlink request and a
# non-root process only gets a capability through file capabilities, which allowPrivilegeEscalation: false
# (no_new_privs) disables. The manifest drops every other capability and mounts the root read-only.
FROM alpine:3.20
RUN apk add --no-cache conntrack-tools=~1.4 \
 && conntrack --version
# Sleeps until stopped; snatguard runs `conntrack -L -o extended` in it through the exec API, nothing else.
ENTRYPOINT ["sh", "-c", "trap 'exit 0' TERM INT; while true; do sleep 3600 & wait $!; done"]
