#!/usr/bin/env bash
# Builds the container images the container tests run, locally (no registry is reachable):
#   tempera/testkit-comfyui:<content hash> and :test — the testkit ComfyUI server (a jlink'd Java
#   runtime, the testkit jar and its dependencies, and the glibc libraries they load, on an
#   otherwise empty root file system), imported with `docker import`.
# Skips the build when an image for the same content hash exists. Needs a running Docker engine
# (scripts/ensure-docker.sh) and a JDK >= 21 with jlink (JAVA_HOME or the newest in /usr/lib/jvm).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
say() { printf '[tempera] %s\n' "$*" >&2; }
REPO=tempera/testkit-comfyui
WORK="$ROOT/.tempera/images/testkit-comfyui"
MODULES=java.base,java.desktop,java.logging,java.management,java.naming,java.sql,java.xml,jdk.unsupported

jdk=""
if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/jlink" ]; then jdk="$JAVA_HOME"; fi
if [ -z "$jdk" ]; then
  for d in /usr/lib/jvm/*; do
    [ -x "$d/bin/jlink" ] || continue
    v=$("$d/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p')
    if [ -n "$v" ] && [ "$v" -ge 21 ]; then jdk="$d"; fi
  done
fi
[ -n "$jdk" ] || { say "building the test image needs a JDK >= 21 with jlink"; exit 1; }
export JAVA_HOME="$jdk" PATH="$jdk/bin:$PATH"
if [ "$("$jdk/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p')" -ge 23 ]; then
  export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
fi

# The testkit jar and its runtime dependencies (offline first; online when something is missing).
mkdir -p "$WORK"
rm -rf "$WORK/deps"
mvn_testkit() { ./mvnw -B -ntp -q -o "$@" >/dev/null 2>&1 || ./mvnw -B -ntp -q "$@"; }
mvn_testkit -pl testkit package -DskipTests
mvn_testkit -pl testkit dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$WORK/deps"
jar=$(ls testkit/target/tempera-testkit-*.jar | grep -v -- '-sources\|-tests' | head -1)

hash=$( { sha256sum "$jar" "$WORK"/deps/*.jar | awk '{print $1}'; "$jdk/bin/java" -version 2>&1; echo "$MODULES"; sha256sum "$0" | awk '{print $1}'; } \
  | sha256sum | cut -c1-12)
if docker image inspect "$REPO:$hash" >/dev/null 2>&1; then
  docker tag "$REPO:$hash" "$REPO:test"
  say "test image $REPO:$hash is up to date"
  exit 0
fi

say "building test image $REPO:$hash"
rootfs="$WORK/rootfs"
rm -rf "$rootfs"
mkdir -p "$rootfs/app/lib" "$rootfs/data" "$rootfs/tmp" "$rootfs/etc" "$rootfs/opt"
chmod 1777 "$rootfs/tmp"
"$jdk/bin/jlink" --add-modules "$MODULES" --strip-debug --no-header-files --no-man-pages --generate-cds-archive \
  --output "$rootfs/opt/java"
cp "$jar" "$rootfs/app/lib/"
cp "$WORK"/deps/*.jar "$rootfs/app/lib/"

# The shared libraries the runtime loads, at the paths the dynamic loader looks them up.
find "$rootfs/opt/java" \( -name '*.so' -o -path '*/bin/java' \) -type f -print0 \
  | xargs -0 ldd 2>/dev/null \
  | awk '/=>/ && $3 ~ /^\// {print $3} /^\s*\/[^ ]*ld-linux/ {print $1}' \
  | sort -u | while read -r lib; do
      mkdir -p "$rootfs$(dirname "$lib")"
      cp -L "$lib" "$rootfs$lib"
    done
for loader in /lib64/ld-linux-x86-64.so.2 /lib/ld-linux-aarch64.so.1; do
  if [ -e "$loader" ]; then mkdir -p "$rootfs$(dirname "$loader")"; cp -L "$loader" "$rootfs$loader"; fi
done
mkdir -p "$rootfs/app/conf"
cat >"$rootfs/app/conf/logback.xml" <<'XML'
<configuration>
  <appender name="out" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{20} - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="out"/></root>
</configuration>
XML
echo 'root:x:0:0:root:/root:/bin/false' >"$rootfs/etc/passwd"
echo 'root:x:0:' >"$rootfs/etc/group"
echo 'hosts: files dns' >"$rootfs/etc/nsswitch.conf"

JAVA_CMD='"/opt/java/bin/java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true", "-Dlogback.configurationFile=/app/conf/logback.xml"'
SERVER_ARGS='"-cp", "/app/lib/*", "io.tempera.testkit.comfyui.ComfyUiTestServer", "--host", "0.0.0.0", "--port", "8188", "--data-dir", "/data"'
tar -C "$rootfs" --numeric-owner -cf - . | docker import \
  --change 'ENV TEMPERA_MODEL=testkit-comfyui' \
  --change 'EXPOSE 8188' \
  --change 'WORKDIR /app' \
  --change "CMD [$JAVA_CMD, $SERVER_ARGS]" \
  - "$REPO:$hash-base" >/dev/null

# A class-data sharing archive from one training start (what the server loads to answer its first
# requests) makes every container start faster; the image works without it when this step fails.
cds=tempera-cds-$hash
docker rm -f "$cds" >/dev/null 2>&1 || true
if docker run -d --name "$cds" -p 127.0.0.1::8188 "$REPO:$hash-base" \
    /opt/java/bin/java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlogback.configurationFile=/app/conf/logback.xml -XX:ArchiveClassesAtExit=/app/app.jsa \
    -cp '/app/lib/*' io.tempera.testkit.comfyui.ComfyUiTestServer --host 0.0.0.0 --port 8188 --data-dir /data >/dev/null; then
  port=$(docker port "$cds" 8188/tcp | head -1 | sed 's/.*://')
  for _ in $(seq 1 120); do
    if ! command -v curl >/dev/null 2>&1; then sleep 8; break; fi
    if curl -fsS "http://127.0.0.1:$port/system_stats" >/dev/null 2>&1; then break; fi
    sleep 0.5
  done
  curl -fsS "http://127.0.0.1:$port/object_info" >/dev/null 2>&1 || true
  curl -fsS "http://127.0.0.1:$port/queue" >/dev/null 2>&1 || true
  docker stop -t 60 "$cds" >/dev/null
  if docker cp "$cds:/app/app.jsa" "$WORK/app.jsa" >/dev/null 2>&1; then
    docker commit --change "CMD [$JAVA_CMD, \"-XX:SharedArchiveFile=/app/app.jsa\", $SERVER_ARGS]" "$cds" "$REPO:$hash" >/dev/null
  fi
  docker rm -f "$cds" >/dev/null
fi
if ! docker image inspect "$REPO:$hash" >/dev/null 2>&1; then
  say "no class-data sharing archive; the image starts without one"
  docker tag "$REPO:$hash-base" "$REPO:$hash"
fi
docker rmi "$REPO:$hash-base" >/dev/null 2>&1 || true
docker tag "$REPO:$hash" "$REPO:test"
rm -rf "$rootfs"
say "built $REPO:$hash (also tagged :test), $(docker image inspect -f '{{.Size}}' "$REPO:$hash" | awk '{printf "%.0f MB", $1/1e6}')"
