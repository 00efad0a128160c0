#!/bin/sh
# Fetches Mesa's lavapipe (a Vulkan driver that runs on the CPU) new enough
# for burn's Vulkan backend, without touching the system's apt state or
# packages, so the GPU parity test can run on a machine with no GPU.
#
# Debian bookworm's lavapipe (22.3.6) and Mesa 25.0.7 segfault in
# vkCreateComputePipelines on CubeCL's kernels; trixie-backports' 26.1.6
# works. It needs trixie's glibc (2.41), so programs run under trixie's own
# loader: `$DEST/run PROGRAM ARGS…`, or for cargo:
#
#   deploy/gpu/lavapipe.sh
#   CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER=/tmp/cis490-lavapipe/run \
#   CIS490_TEST_DEVICES=vulkan:cpu \
#     cargo test -p cis490-models --features gpu-vulkan --lib -- probe
#
# Downloads 36 packages (98 MB) from deb.debian.org; extracts 342 MB. The
# backports version rotates: pin it with MESA_VERSION if needed.
set -eu
DEST=${DEST:-/tmp/cis490-lavapipe}
WORK=${WORK:-/tmp/cis490-lavapipe-apt}
MESA=${MESA_VERSION:+=$MESA_VERSION}
mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/debs"
printf 'deb http://deb.debian.org/debian trixie main\ndeb http://deb.debian.org/debian trixie-backports main\n' \
    > "$WORK/sources.list"
apt_own() {
    apt-get -o Dir::Etc::sourcelist="$WORK/sources.list" -o Dir::Etc::sourceparts=/nonexistent \
        -o Dir::State::lists="$WORK/lists" -o Dir::Cache="$WORK/cache" "$@"
}
apt_own update -qq
cd "$WORK/debs"
apt_own download -qq "mesa-vulkan-drivers${MESA:-/trixie-backports}" \
    libc6 libstdc++6 libgcc-s1 libllvm19 libz3-4 libxml2 libicu76 libedit2 libffi8 libtinfo6 libzstd1 zlib1g \
    libelf1t64 libdrm2 libdrm-amdgpu1 libexpat1 libwayland-client0 libx11-xcb1 libx11-6 libxcb1 libxcb-dri3-0 \
    libxcb-present0 libxcb-randr0 libxcb-shm0 libxcb-sync1 libxcb-xfixes0 libxshmfence1 libxau6 libxdmcp6 \
    libbsd0 libmd0 liblzma5 libvulkan1 libdisplay-info2 libpng16-16t64
rm -rf "$DEST"
for deb in *.deb; do dpkg -x "$deb" "$DEST"; done
lib="$DEST/usr/lib/x86_64-linux-gnu"
icd="$DEST/usr/share/vulkan/icd.d/lvp_icd.json"
sed -i "s#\"library_path\": \"libvulkan_lvp.so\"#\"library_path\": \"$lib/libvulkan_lvp.so\"#" "$icd"
cat > "$DEST/run" <<EOR
#!/bin/sh
# Runs a program with this lavapipe as the only Vulkan driver, under trixie's loader.
export VK_ICD_FILENAMES=$icd
export XDG_RUNTIME_DIR=\${XDG_RUNTIME_DIR:-/tmp/cis490-xdg}
mkdir -p "\$XDG_RUNTIME_DIR" && chmod 700 "\$XDG_RUNTIME_DIR"
exec $lib/ld-linux-x86-64.so.2 --library-path $lib "\$@"
EOR
chmod +x "$DEST/run"
echo "lavapipe ready: run programs with $DEST/run"
