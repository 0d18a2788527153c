# shellcheck shell=bash
# Makes Confluent.Kafka's native dependency, librdkafka.redist, restorable.
#
# On a machine whose NuGet registry serves librdkafka.redist $LIBRDKAFKA_VERSION, nothing is built:
# the plain package is restored from the registry. Where the registry lacks it, librdkafka is built
# from the source that the npm package @confluentinc/kafka-javascript ships (deps/librdkafka, the
# same version) and packed as librdkafka.redist into the local feed .cache/nuget-feed, which
# NuGet.config lists. Everything is cached: a second run returns in well under a second.

LIBRDKAFKA_VERSION=2.15.1
KAFKA_JS_PACKAGE=@confluentinc/kafka-javascript@1.10.1

# The global packages folder already holding the package (from the registry or from our feed)
# means restore needs nothing more.
librdkafka_in_global_packages() {
  local global
  global=$(dotnet nuget locals global-packages --list 2>/dev/null | sed -n 's/^global-packages: //p')
  [ -n "$global" ] && [ -f "$global/librdkafka.redist/$LIBRDKAFKA_VERSION/librdkafka.redist.nuspec" ]
}

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
  if [ ! -f "$feed/librdkafka.redist.$LIBRDKAFKA_VERSION.nupkg" ]; then
    log "packing librdkafka.redist $LIBRDKAFKA_VERSION into $feed"
    # Packed from a copy so that no obj/ or bin/ folder appears in the work tree.
    mkdir -p "$cache/pack"
    cp "$root/build/librdkafka.redist/librdkafka.redist.csproj" "$cache/pack/"
    dotnet pack "$cache/pack/librdkafka.redist.csproj" -c Release -o "$feed" \
      -p:NativeDir="$native" -p:PackageVersion="$LIBRDKAFKA_VERSION" \
      --nologo >"$cache/pack.log" 2>&1 || die "packing librdkafka.redist failed; see $cache/pack.log"
  fi
}

ensure_librdkafka() {
  local root=$1 marker="$1/.cache/librdkafka.source"
  if librdkafka_in_global_packages; then
    return 0
  fi
  if [ ! -f "$marker" ]; then
    log "checking whether NuGet serves librdkafka.redist $LIBRDKAFKA_VERSION"
    if librdkafka_registry_has_it; then echo registry >"$marker"; else echo local >"$marker"; fi
  fi
  if [ "$(cat "$marker")" = local ]; then
    librdkafka_build_local_package "$root"
  fi
}
