/* CUDA prelude (NVRTC): maps the kernel sources' portable words onto CUDA C++. */
#define BRT_CUDA 1
#define KERNEL extern "C" __global__
#define GLOBAL
#define LOCAL __shared__
#define LOCAL_PTR
#define DEVICE static __device__ __forceinline__
#define BARRIER() __syncthreads()
#define GROUP_ID(d) ((int) ((d) == 0 ? blockIdx.x : (d) == 1 ? blockIdx.y : blockIdx.z))
#define LOCAL_ID(d) ((int) ((d) == 0 ? threadIdx.x : (d) == 1 ? threadIdx.y : threadIdx.z))
#define LOCAL_SIZE(d) ((int) ((d) == 0 ? blockDim.x : (d) == 1 ? blockDim.y : blockDim.z))
#define NUM_GROUPS(d) ((int) ((d) == 0 ? gridDim.x : (d) == 1 ? gridDim.y : gridDim.z))
#define GLOBAL_ID0 ((int) (blockIdx.x * blockDim.x + threadIdx.x))
typedef unsigned int uint;
typedef unsigned long ulong;
typedef unsigned short ushort;
#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif
