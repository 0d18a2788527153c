# shellcheck shell=bash
# Makes Confluent.Kafka's native dependency, librdkafka.redist, restorable, and proves it loads.
#
# Where does librdkafka come from (INGEST_LIBRDKAFKA=auto, the default, picks the first that works)?
# - registry: the librdkafka.redist $LIBRDKAFKA_VERSION package of the configured NuGet sources.
#   Its default Linux binary is a RHEL build that needs libsasl2.so.3 (absent from Debian and
#   Ubuntu); Confluent.Kafka then falls back to the package's centos8-librdkafka.so, and the
#   embedded broker binds whatever Confluent.Kafka loaded (src/Ingest.Kafka/Native).
# - local: librdkafka built here from the source that the npm package @confluentinc/kafka-javascript
#   ships (deps/librdkafka, the same version), packed as librdkafka.redist $LIBRDKAFKA_LOCAL_VERSION
#   (one patch above, so that no registry copy can stand in for it) into .cache/nuget-feed, which
#   NuGet.config lists; .cache/librdkafka.props makes Directory.Packages.props ask for that version.
# auto takes the registry when it serves the package and one of its binaries loads, else local.
# INGEST_LIBRDKAFKA=registry or =local forces one. Everything is cached under .cache/.

LIBRDKAFKA_VERSION=2.15.1
LIBRDKAFKA_LOCAL_VERSION=$LIBRDKAFKA_VERSION.1
KAFKA_JS_PACKAGE=@confluentinc/kafka-javascript@1.10.1

# Asks the configured NuGet sources (not our local feed) whether they serve the package, restoring
# into a throw-away packages folder so that a cached copy cannot answer for the registry.
librdkafka_registry_has_it() {
  local probe rc
  probe=$(mktemp -d)
  cat >"$probe/probe.csproj" <<PROJ
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>netstandard2.0</TargetFramework></PropertyGroup>
  <ItemGroup><PackageReference Include="librdkafka.redist" Version="[$LIBRDKAFKA_VERSION]" /></ItemGroup>
</Project>
PROJ
  (cd "$probe" && dotnet restore probe.csproj --packages "$probe/packages" >"$probe/restore.log" 2>&1)
  rc=$?
  rm -rf "$probe"
  return $rc
}

librdkafka_build_local_package() {
  local root=$1 cache="$1/.cache/librdkafka" feed="$1/.cache/nuget-feed"
  local src="$cache/package/deps/librdkafka" native="$cache/native"
  mkdir -p "$cache" "$feed"
  if [ ! -f "$native/librdkafka.so" ]; then
    ensure_apt_packages build-essential pkg-config libssl-dev zlib1g-dev libzstd-dev liblz4-dev
    if [ ! -d "$src" ]; then
      log "fetching librdkafka $LIBRDKAFKA_VERSION source from npm ($KAFKA_JS_PACKAGE)"
      (cd "$cache" && npm pack --silent "$KAFKA_JS_PACKAGE" >/dev/null && tar xzf confluentinc-kafka-javascript-*.tgz) \
        || die "could not fetch $KAFKA_JS_PACKAGE from npm"
    fi
    grep -q "define RD_KAFKA_VERSION *0x020f01" "$src/src/rdkafka.h" \
      || die "$KAFKA_JS_PACKAGE does not ship librdkafka $LIBRDKAFKA_VERSION"
    log "building librdkafka $LIBRDKAFKA_VERSION (about a minute)"
    (cd "$src" && ./configure --disable-gssapi --disable-curl >"$cache/configure.log" 2>&1 \
      && make -j"$(nproc)" libs >"$cache/make.log" 2>&1) \
      || die "librdkafka build failed; see $cache/configure.log and $cache/make.log"
    mkdir -p "$native"
    cp "$src/src/librdkafka.so.1" "$native/librdkafka.so"
    strip --strip-unneeded "$native/librdkafka.so" 2>/dev/null || true
    cp "$src/LICENSES.txt" "$native/LICENSES.txt"
  fi
  if [ ! -f "$feed/librdkafka.redist.$LIBRDKAFKA_LOCAL_VERSION.nupkg" ]; then
    log "packing librdkafka.redist $LIBRDKAFKA_LOCAL_VERSION into $feed"
    # Packed from a copy so that no obj/ or bin/ folder appears in the work tree.
    mkdir -p "$cache/pack"
    cp "$root/build/librdkafka.redist/librdkafka.redist.csproj" "$cache/pack/"
    dotnet pack "$cache/pack/librdkafka.redist.csproj" -c Release -o "$feed" \
      -p:NativeDir="$native" -p:PackageVersion="$LIBRDKAFKA_LOCAL_VERSION" \
      --nologo >"$cache/pack.log" 2>&1 || die "packing librdkafka.redist failed; see $cache/pack.log"
  fi
}

# Writes or removes .cache/librdkafka.props, which picks the package version Directory.Packages.props uses.
librdkafka_select() {
  local root=$1 source=$2 props="$1/.cache/librdkafka.props" want
  if [ "$source" = local ]; then
    want="<Project><PropertyGroup><IngestLibrdkafkaVersion>$LIBRDKAFKA_LOCAL_VERSION</IngestLibrdkafkaVersion></PropertyGroup></Project>"
    [ -f "$props" ] && [ "$(cat "$props")" = "$want" ] || printf '%s\n' "$want" >"$props"
  else
    rm -f "$props"
  fi
}

# Prints the source to use (registry or local) and prepares it.
ensure_librdkafka() {
  local root=$1 mode=${INGEST_LIBRDKAFKA:-auto} marker="$1/.cache/librdkafka.source" source
  case "$mode" in
    registry|local) source=$mode ;;
    auto)
      if [ ! -f "$marker" ]; then
        log "checking whether NuGet serves librdkafka.redist $LIBRDKAFKA_VERSION"
        if librdkafka_registry_has_it; then echo registry >"$marker"; else echo local >"$marker"; fi
      fi
      source=$(cat "$marker") ;;
    *) die "INGEST_LIBRDKAFKA must be auto, registry or local (got $mode)" ;;
  esac
  [ "$source" = local ] && librdkafka_build_local_package "$root"
  librdkafka_select "$root" "$source"
  echo "$source"
}

# After a build: loads librdkafka exactly as the gateway does (Confluent.Kafka's loader, then the
# embedded broker's binding to the same file) and prints its version and file.
librdkafka_check() {
  local root=$1 out
  if out=$(dotnet "$root/src/Ingest.Gateway/bin/Release/net10.0/Ingest.Gateway.dll" --check-librdkafka 2>&1); then
    log "$out"
  else
    printf '[ingest] %s\n' "$out" >&2
    return 1
  fi
}

# The registry's package loads no binary here: remember that auto mode builds locally from now on.
librdkafka_fall_back_to_local() {
  local root=$1
  log "no binary of the registry's librdkafka.redist loads here (above); building librdkafka locally instead"
  echo local >"$root/.cache/librdkafka.source"
}
