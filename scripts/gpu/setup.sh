# Source this on the GPU machine, in the repository root, carrying .whl and .gl (made here by
# scripts/gpu/prepare.sh): GL loaders, the font libraries pyglet needs where the machine
# lacks them, NVIDIA's EGL vendor, and the carried Python packages on PYTHONPATH.
for f in .gl/*.deb; do dpkg -x "$f" /; done
mkdir -p /tmp/glx/lib /tmp/glx/fc-cache
for f in .gl/extra/*.deb; do dpkg -x "$f" /tmp/glx; done
ldconfig
for so in /tmp/glx/usr/lib/x86_64-linux-gnu/*.so.* /tmp/glx/lib/x86_64-linux-gnu/*.so.*; do
    n="$(basename "$so")"; ldconfig -p | grep -q "^\s$n (" || ln -sf "$so" "/tmp/glx/lib/$n"
done
cat > /tmp/glx/fonts.conf <<'CONF'
<?xml version="1.0"?>
<fontconfig><dir>/tmp/glx/usr/share/fonts</dir><cachedir>/tmp/glx/fc-cache</cachedir></fontconfig>
CONF
export LD_LIBRARY_PATH="/tmp/glx/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" FONTCONFIG_FILE=/tmp/glx/fonts.conf
_egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
[ -f "$_egl" ] && export __EGL_VENDOR_LIBRARY_FILENAMES="$_egl"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
