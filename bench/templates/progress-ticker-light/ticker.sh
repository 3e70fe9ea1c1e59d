# Benchmark script backend: progress-ticker's lines at a fixed rate, then a tiny PNG, in bash builtins
# only (no process per line, no interpreter start-up). Parameters: hz, seconds (whole numbers).
read -r -d '' request || true
hz=20
seconds=10
[[ $request =~ \"hz\":([0-9]+) ]] && hz=${BASH_REMATCH[1]}
[[ $request =~ \"seconds\":([0-9]+) ]] && seconds=${BASH_REMATCH[1]}
[[ $request =~ \"outputDir\":\"([^\"]*)\" ]] || { echo '{"type":"error","message":"no outputDir"}'; exit 1; }
out=${BASH_REMATCH[1]}
steps=$((hz * seconds))
exec 3<> <(:) # a pipe nobody writes to: read -t on it sleeps without a process
start=${EPOCHREALTIME/./}
for ((step = 1; step <= steps; step++)); do
  # paced against the start, so a late wake-up does not slow the whole run down
  delay=$((start + step * 1000000 / hz - ${EPOCHREALTIME/./}))
  if ((delay > 0)); then
    printf -v wait '%d.%06d' $((delay / 1000000)) $((delay % 1000000))
    read -r -t "$wait" -u 3 || true
  fi
  whole=$((step * 1000000 / steps))
  printf '{"type":"progress","progress":%d.%06d,"step":%d,"totalSteps":%d}\n' \
    $((whole / 1000000)) $((whole % 1000000)) "$step" "$steps"
done
printf '\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x02\x00\x00\x00\x02\x08\x02\x00\x00\x00\xfd\xd4\x9a\x73\x00\x00\x00\x13\x49\x44\x41\x54\x78\x9c\x63\x50\x70\x68\x00\x22\x86\x06\x07\x05\x20\x02\x00\x18\x8e\x03\x81\x31\x27\x62\x70\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82' >"$out/ticker.png"
echo '{"type":"result","outputs":["ticker.png"]}'
