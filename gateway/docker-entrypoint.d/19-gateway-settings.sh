#!/bin/sh
# The gateway's settings that envsubst cannot handle, run by the nginx image's entrypoint before
# its 20-envsubst-on-templates.sh renders gateway.conf.template. POSIX sh and awk only (both
# images have them). gateway/render.py does the same for native runs; gateway/tests checks that
# the two write the same file and refuse the same values.
#
#   GATEWAY_REAL_IP_FROM    trusted proxies: IPv4/IPv6 addresses or CIDRs, comma or space
#                           separated. Writes $NGINX_ENVSUBST_OUTPUT_DIR/gateway-real-ip.conf
#                           (default /etc/nginx/conf.d, included inside `http {}`): one
#                           set_real_ip_from per entry, real_ip_header, real_ip_recursive on.
#                           Empty: no directive, the client address is the connection's peer.
#   GATEWAY_REAL_IP_HEADER  the header those proxies put the client address in
#                           (default X-Forwarded-For)
#   GATEWAY_HSTS            checked only (envsubst puts it into the template): empty, or a
#                           Strict-Transport-Security value such as
#                           `max-age=31536000; includeSubDomains` (also `preload`)
#
# An invalid value stops the container (the entrypoint runs with `set -e`): a gateway that
# silently trusted nothing, or everything, would be worse than one that does not start.
set -eu

ME=$(basename "$0")
output_dir=${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}

conf=$(
  awk '
    function fail(message) { printf "%s\n", message > "/dev/stderr"; failed = 1; exit 1 }

    # A decimal number without a leading zero, from 0 up to max.
    function decimal(text, max) {
      if (text !~ /^(0|[1-9][0-9]*)$/ || length(text) > 3) return -1
      return (text + 0 <= max) ? text + 0 : -1
    }

    function hex_value(text,    i, value) {
      value = 0
      for (i = 1; i <= length(text); i++)
        value = value * 16 + index("0123456789abcdef", substr(tolower(text), i, 1)) - 1
      return value
    }

    # Host bits of `value` (a `width`-bit group) beyond the first `keep` bits must be zero.
    function low_bits_clear(value, width, keep) {
      if (keep >= width) return 1
      if (keep <= 0) return value == 0
      return value % (2 ^ (width - keep)) == 0
    }

    function valid_ipv4(address, prefix,    octets, i, value) {
      if (split(address, octets, ".") != 4) return 0
      value = 0
      for (i = 1; i <= 4; i++) {
        if (decimal(octets[i], 255) < 0) return 0
        value = value * 256 + octets[i]
      }
      return low_bits_clear(value, 32, prefix)
    }

    # Groups of 1-4 hex digits separated by single colons ("" is no group); -1 if malformed.
    function hextets(text, groups,    count, parts, i) {
      if (text == "") return 0
      count = split(text, parts, ":")
      for (i = 1; i <= count; i++) {
        if (parts[i] !~ /^[0-9A-Fa-f]+$/ || length(parts[i]) > 4) return -1
        groups[i] = hex_value(parts[i])
      }
      return count
    }

    function valid_ipv6(address, prefix,    at, left, right, head, tail, n, m, i, all, bits) {
      if (address !~ /^[0-9A-Fa-f:]+$/ || address ~ /:::/) return 0
      at = index(address, "::")
      if (at) {
        if (index(substr(address, at + 2), "::")) return 0
        n = hextets(substr(address, 1, at - 1), head)
        m = hextets(substr(address, at + 2), tail)
        if (n < 0 || m < 0 || n + m > 7) return 0
      } else {
        n = hextets(address, head)
        m = 0
        if (n != 8) return 0
      }
      for (i = 1; i <= 8; i++) all[i] = 0
      for (i = 1; i <= n; i++) all[i] = head[i]
      for (i = 1; i <= m; i++) all[8 - m + i] = tail[i]
      for (i = 1; i <= 8; i++) {
        if (!low_bits_clear(all[i], 16, prefix - 16 * (i - 1))) return 0
      }
      return 1
    }

    function valid_proxy(entry,    slash, address, prefix, is_v6) {
      slash = index(entry, "/")
      address = slash ? substr(entry, 1, slash - 1) : entry
      is_v6 = index(address, ":") > 0
      prefix = slash ? decimal(substr(entry, slash + 1), is_v6 ? 128 : 32) : (is_v6 ? 128 : 32)
      if (prefix < 0) return 0
      return is_v6 ? valid_ipv6(address, prefix) : valid_ipv4(address, prefix)
    }

    BEGIN {
      hsts = ENVIRON["GATEWAY_HSTS"]
      if (tolower(hsts) !~ /^(max-age=[0-9]+( *; *(includesubdomains|preload))*)?$/)
        fail("GATEWAY_HSTS=" hsts " is not a Strict-Transport-Security value (example: max-age=31536000; includeSubDomains)")

      header = ENVIRON["GATEWAY_REAL_IP_HEADER"]
      if (header == "") header = "X-Forwarded-For"
      if (header !~ /^[A-Za-z0-9-]+$/ || length(header) > 64)
        fail("GATEWAY_REAL_IP_HEADER=" header " is not a header name (example: X-Forwarded-For)")

      print "# Client address behind trusted proxies (GATEWAY_REAL_IP_FROM, GATEWAY_REAL_IP_HEADER)."
      print "# Written when the gateway starts; change the variables, not this file."
      count = split(ENVIRON["GATEWAY_REAL_IP_FROM"], entries, /[ \t\n,]+/)
      trusted = 0
      for (i = 1; i <= count; i++) {
        if (entries[i] == "") continue
        if (!valid_proxy(entries[i]))
          fail("GATEWAY_REAL_IP_FROM: " entries[i] " is not an IPv4/IPv6 address or CIDR with zero host bits (example: 10.0.0.0/8)")
        print "set_real_ip_from " entries[i] ";"
        trusted++
      }
      if (trusted) {
        print "real_ip_header " header ";"
        print "real_ip_recursive on;"
      } else {
        print "# No trusted proxy: the client address is the connection'"'"'s peer."
      }
    }
  ' </dev/null
) || { echo "$ME: refusing to start" >&2; exit 1; }

printf '%s\n' "$conf" >"$output_dir/gateway-real-ip.conf"
echo "$ME: wrote $output_dir/gateway-real-ip.conf"
