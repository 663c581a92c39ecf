// bigalloc: a diagnostic LD_PRELOAD shim for hunting memory that a worker allocates in large
// blocks and keeps (docs/performance.md, "Memory"). It logs the C backtrace and the calling
// thread's Python stack of every malloc, calloc, realloc or anonymous mmap of at least
// BIGALLOC_MIN bytes (default 2 MiB) to /tmp/bigalloc-<pid>.log; below that, one compare a call.
//
//   gcc -O2 -shared -fPIC -o /tmp/bigalloc.so scripts/bigalloc.c -ldl
//   LD_PRELOAD=/tmp/bigalloc.so .venv/bin/recordflow bench --size 10KB --rate 38 --duration 1800
//
// Logging slows whatever allocates often at that size (aiokafka's zstd decoding does, per batch).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static size_t min_size = 2u << 20;
static int fd = -1;
static __thread int inside;

static void note(const char *what, size_t size, void *ptr) {
    if (inside) return;
    inside = 1;
    if (fd < 0) {
        char path[64];
        snprintf(path, sizeof path, "/tmp/bigalloc-%d.log", getpid());
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    }
    if (fd >= 0) {
        char line[160];
        int n = snprintf(line, sizeof line, "== %ld %s %zu %p tid %ld\n", (long)time(NULL), what, size, ptr,
                         (long)syscall(SYS_gettid));
        write(fd, line, n);
        void *frames[32];
        int depth = backtrace(frames, 32);
        backtrace_symbols_fd(frames, depth, fd);
        // The Python stack of this thread too, by faulthandler's own dumper (allocates nothing).
        static void (*dump)(int, void *);
        static void *(*tstate_of_thread)(void);
        if (!dump) {
            dump = (void (*)(int, void *))dlsym(RTLD_DEFAULT, "_Py_DumpTraceback");
            tstate_of_thread = (void *(*)(void))dlsym(RTLD_DEFAULT, "PyGILState_GetThisThreadState");
        }
        if (dump && tstate_of_thread) {
            void *tstate = tstate_of_thread();
            if (tstate) dump(fd, tstate);
        }
    }
    inside = 0;
}

__attribute__((constructor)) static void init(void) {
    const char *env = getenv("BIGALLOC_MIN");
    if (env) min_size = strtoull(env, NULL, 10);
}

void *malloc(size_t size) {
    void *p = __libc_malloc(size);
    if (size >= min_size) note("malloc", size, p);
    return p;
}
void *calloc(size_t n, size_t size) {
    void *p = __libc_calloc(n, size);
    if (n * size >= min_size) note("calloc", n * size, p);
    return p;
}
void *realloc(void *old, size_t size) {
    void *p = __libc_realloc(old, size);
    if (size >= min_size) note("realloc", size, p);
    return p;
}
void *mmap(void *addr, size_t len, int prot, int flags, int fd_, off_t off) {
    void *p = (void *)syscall(SYS_mmap, addr, len, prot, flags, fd_, off);
    if ((flags & MAP_ANONYMOUS) && len >= min_size && len < (64u << 20)) note("mmap", len, p);
    return p;
}
