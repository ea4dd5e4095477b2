# Growth of the live heap between two `dotnet-gcdump report` outputs of one process (first file earlier), as
# Markdown: totals, then the types whose bytes grew (or shrank) most. Variables: top (rows, 20), rss0/rss1 (KiB).
# Used by bench/soak.sh --gcdump. Report lines: "<bytes per object>  <count>  <type>" (thousands separators).
function num(s) { gsub(",", "", s); return s + 0 }
BEGIN { if (top == "") top = 20 }
FNR == 1 { file++ }
$1 ~ /^[0-9,]+$/ && $2 ~ /^[0-9,]+$/ {
  t = $0; sub(/^[ \t]*[0-9,]+[ \t]+[0-9,]+[ \t]+/, "", t)
  if ($3 == "GC") next
  name = t; sub(/[ \t]+\[[^]]*\][ \t]*$/, "", name)
  if (file == 1) { b[name] += num($1) * num($2); c[name] += num($2); tb += num($1) * num($2); tc += num($2) }
  else { B[name] += num($1) * num($2); C[name] += num($2); TB += num($1) * num($2); TC += num($2) }
  seen[name] = 1
}
END {
  printf "| | after warm-up | before the end | change |\n|---|---:|---:|---:|\n"
  printf "| live managed heap | %.1f MiB | %.1f MiB | %+.1f %% |\n", tb / 1048576, TB / 1048576, (tb > 0 ? (TB - tb) / tb * 100 : 0)
  printf "| objects | %d | %d | %+d |\n", tc, TC, TC - tc
  if (rss0 != "" && rss1 != "") printf "| RSS | %.1f MiB | %.1f MiB | %+.1f %% |\n", rss0 / 1024, rss1 / 1024, (rss0 > 0 ? (rss1 - rss0) / rss0 * 100 : 0)
  printf "\n| type (largest change first) | objects before | objects at the end | bytes change |\n|---|---:|---:|---:|\n"
  for (t in seen) d[t] = B[t] - b[t]
  for (k = 0; k < top; k++) {
    best = ""; for (t in d) if (!(t in shown) && (best == "" || (d[t] < 0 ? -d[t] : d[t]) > (d[best] < 0 ? -d[best] : d[best]))) best = t
    if (best == "" || d[best] == 0) break
    shown[best] = 1
    printf "| `%s` | %d | %d | %+d |\n", best, c[best], C[best], d[best]
  }
}
