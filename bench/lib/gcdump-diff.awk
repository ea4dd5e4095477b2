# Difference of two `dotnet-gcdump report` outputs (before, held) per connection, as a Markdown table.
# Variables: n (connections), top (rows), rss0/rss1 (KiB). Used by bench/gcdump.sh.
# Report lines: "<bytes per object>  <count>  <type>" (thousands separators; objects above 1K/10K/100K/1M are grouped
# by type and size class, with their mean size); the type may contain spaces. Bytes of a line = size x count.

function num(s) { gsub(",", "", s); return s + 0 }
# Who allocates a type, from its name: the gateway's own types (and their async state machines), ASP.NET Core and
# Kestrel (HTTP/1 objects, middleware, hosting, logging), the WebSocket and socket layers; everything else (strings,
# tasks, cancellation, locks, arrays) is shared runtime types, allocated by any of them.
function owner(t) {
  if (t ~ /Gateway\./) return "gateway"
  if (t ~ /AspNetCore|Kestrel|Serilog|DependencyInjection|Hosting/) return "ASP.NET Core / Kestrel"
  if (t ~ /System\.Net\.WebSockets/) return "System.Net.WebSockets"
  if (t ~ /System\.Net\.Sockets|SocketAsync/) return "System.Net.Sockets"
  if (t ~ /Pipelines/) return "System.IO.Pipelines"
  return "runtime types (any owner)"
}
FNR == 1 { file++ }
$1 ~ /^[0-9,]+$/ && $2 ~ /^[0-9,]+$/ {
  t = $0; sub(/^[ \t]*[0-9,]+[ \t]+[0-9,]+[ \t]+/, "", t)
  if ($3 == "GC") next
  if (file == 1) { b[t] += num($1) * num($2); c[t] += num($2) } else { B[t] += num($1) * num($2); C[t] += num($2) }
  seen[t] = 1
}
END {
  for (t in seen) { db[t] = B[t] - b[t]; dc[t] = C[t] - c[t]; tot += db[t]; totc += dc[t] }
  for (t in db) { o = owner(t); ob[o] += db[t]; oc[o] += dc[t] }
  printf "| allocated by | objects per connection | bytes per connection |\n|---|---:|---:|\n"
  for (o in ob) printf "| %s | %.1f | %.0f |\n", o, oc[o] / n, ob[o] / n
  printf "\n| type | objects per connection | bytes per connection |\n|---|---:|---:|\n"
  k = 0
  while (k < top) {
    best = ""; for (t in db) if (!(t in shown) && (best == "" || db[t] > db[best])) best = t
    if (best == "" || db[best] / n < 8) break
    shown[best] = 1; k++
    name = best; sub(/[ \t]+\[[^]]*\][ \t]*$/, "", name)
    printf "| `%s` | %.2f | %.0f |\n", name, dc[best] / n, db[best] / n
  }
  printf "| **total managed (all types)** | %.1f | **%.0f** |\n\n", totc / n, tot / n
  printf "RSS: %d KiB before, %d KiB held: **%.2f KiB per connection** (managed heap: %.2f KiB of it).\n", rss0, rss1, (rss1 - rss0) / n, tot / n / 1024
}
