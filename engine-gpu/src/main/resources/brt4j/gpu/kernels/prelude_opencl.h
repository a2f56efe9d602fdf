/* OpenCL prelude: maps the kernel sources' portable words onto OpenCL C 1.2. */
#define KERNEL __kernel
#define GLOBAL __global
#define LOCAL __local
#define LOCAL_PTR __local
#define DEVICE static inline
#define BARRIER() barrier(CLK_LOCAL_MEM_FENCE)
#define GROUP_ID(d) ((int) get_group_id(d))
#define LOCAL_ID(d) ((int) get_local_id(d))
#define LOCAL_SIZE(d) ((int) get_local_size(d))
#define NUM_GROUPS(d) ((int) get_num_groups(d))
#define GLOBAL_ID0 ((int) get_global_id(0))
#define expf exp
#define logf log
#define sqrtf sqrt
#define tanhf tanh
#define fmaxf fmax
#define fminf fmin
#define fabsf fabs
