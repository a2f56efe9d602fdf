# Sourced by the device scripts (gpu-h200.sh, nccl-h200.sh, nccl-scaling.sh), from the repository root: unpacks
# $DEV/bundle.tar.xz (gpu-bundle.sh or nccl-bundle.sh; DEV defaults to .device) and .device/jre.tar.xz once per
# bundle, then sets S (the staged jars and tests), J (the jlink'd java), FLAGS, CP and LD_LIBRARY_PATH (CUDA's and
# PyTorch's cu13 libraries, where the device has them).
DEV=${DEV:-.device}
if [ ! $DEV/unpacked -nt $DEV/bundle.tar.xz ] || [ ! $DEV/unpacked -nt .device/jre.tar.xz ]; then
  tar -C $DEV -xJf $DEV/bundle.tar.xz && tar -C .device -xJf .device/jre.tar.xz && touch $DEV/unpacked || exit 1
fi
S=$DEV/stage; J=.device/jre/bin/java
FLAGS="--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xss8m -XX:+UseParallelGC -XX:+UseTransparentHugePages"
for d in /usr/local/cuda/lib64 /opt/torch/.venv/lib/python3*/site-packages/nvidia/cu13/lib; do
  [ -d "$d" ] && LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"
done
export LD_LIBRARY_PATH
# Signal chaining (bin/brt says why): the OpenCL tests load PoCL, whose LLVM replaces the JVM's SIGSEGV handler.
[ -f .device/jre/lib/libjsig.so ] && export LD_PRELOAD="$PWD/.device/jre/lib/libjsig.so${LD_PRELOAD:+:$LD_PRELOAD}"
CP=$(echo $S/lib/*.jar | tr ' ' ':')
