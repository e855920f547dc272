# The node probe's `conntrack` container (infra/kubernetes/node-probe.yaml): the conntrack binary and
# the libraries it links, and nothing else — no shell, no `ip`, no package manager — so the NET_ADMIN
# capability the container needs can only be used through `conntrack`. snatguard runs exactly
# `conntrack -L -o extended` in it over the exec API (netlink: /proc/net/nf_conntrack is often absent)
# to count source-NATed flows per pod: the `conntrack` attribution method.
# Build from the repository root:
#   docker build -f infra/docker/node-probe.Dockerfile -t ghcr.io/snatguard/node-probe:0.1.0 infra/docker
#
# Root, with every capability dropped but NET_ADMIN (the manifest says so): the kernel checks
# CAP_NET_ADMIN for every conntrack netlink request, and a non-root process only gets a capability
# through file capabilities, which allowPrivilegeEscalation: false (no_new_privs) turns off.

# ---- tools: conntrack-tools from Alpine, with the shared objects it needs ----------------------
FROM alpine:3.20 AS tools
RUN apk add --no-cache conntrack-tools \
 && conntrack --version \
 && mkdir -p /out/usr/sbin \
 && cp /usr/sbin/conntrack /out/usr/sbin/conntrack \
 && for lib in $(ldd /usr/sbin/conntrack | awk '$2 == "=>" { print $3 } $1 ~ /^\/lib\/ld-musl/ { print $1 }'); do \
      mkdir -p "/out$(dirname "$lib")" && cp -L "$lib" "/out$lib"; \
    done

# ---- the pause binary: a process that sleeps until the kubelet stops it --------------------------
FROM registry.k8s.io/pause:3.10 AS pause

# ---- runtime ------------------------------------------------------------------------------------
FROM scratch
COPY --from=tools /out/ /
COPY --from=pause /pause /pause
ENTRYPOINT ["/pause"]
