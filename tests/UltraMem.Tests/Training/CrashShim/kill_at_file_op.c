// LD_PRELOAD shim for crash tests: SIGKILLs the process just before (or just after) the Nth file-system change whose
// path contains a given text. Environment:
//   KILL_AT_OP=N        1-based index of the matching operation to die at (unset or 0: count only)
//   KILL_MATCH=TEXT     only operations with TEXT in a path count (default: all)
//   KILL_AFTER=1        die after the operation instead of before it
//   KILL_LOG=PATH       append "INDEX OP PATH [-> PATH]" for every matching operation
// Operations: rename, renameat, renameat2, unlink, unlinkat, rmdir.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long counter;

static int matches(const char *a, const char *b)
{
    const char *m = getenv("KILL_MATCH");
    if (!m || !*m) return 1;
    return (a && strstr(a, m)) || (b && strstr(b, m));
}

// returns 1 when this operation is the one to die at (and KILL_AFTER is set), having died already when it is not
static int before(const char *op, const char *a, const char *b)
{
    if (!matches(a, b)) return 0;
    long index = __atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST);
    const char *log = getenv("KILL_LOG");
    if (log) {
        FILE *f = fopen(log, "a");
        if (f) { fprintf(f, "%ld %s %s%s%s\n", index, op, a ? a : "", b ? " -> " : "", b ? b : ""); fclose(f); }
    }
    const char *at = getenv("KILL_AT_OP");
    if (!at || atol(at) != index) return 0;
    const char *after = getenv("KILL_AFTER");
    if (after && *after == '1') return 1;
    kill(getpid(), SIGKILL);
    return 0;
}

static void after(int die) { if (die) kill(getpid(), SIGKILL); }

#define NEXT(name) static __typeof__(name) *real; if (!real) real = dlsym(RTLD_NEXT, #name)

int rename(const char *from, const char *to)
{
    NEXT(rename);
    int die = before("rename", from, to);
    int r = real(from, to);
    after(die);
    return r;
}

int renameat(int fd1, const char *from, int fd2, const char *to)
{
    NEXT(renameat);
    int die = before("rename", from, to);
    int r = real(fd1, from, fd2, to);
    after(die);
    return r;
}

int renameat2(int fd1, const char *from, int fd2, const char *to, unsigned int flags)
{
    NEXT(renameat2);
    int die = before("rename", from, to);
    int r = real(fd1, from, fd2, to, flags);
    after(die);
    return r;
}

int unlink(const char *path)
{
    NEXT(unlink);
    int die = before("unlink", path, NULL);
    int r = real(path);
    after(die);
    return r;
}

int unlinkat(int fd, const char *path, int flags)
{
    NEXT(unlinkat);
    int die = before("unlink", path, NULL);
    int r = real(fd, path, flags);
    after(die);
    return r;
}

int rmdir(const char *path)
{
    NEXT(rmdir);
    int die = before("rmdir", path, NULL);
    int r = real(path);
    after(die);
    return r;
}
