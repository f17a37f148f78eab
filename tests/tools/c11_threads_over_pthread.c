// ISO C11 threads (<threads.h>) over the pthread functions, preloaded
// (LD_PRELOAD) by the ThreadSanitizer pass into every process the tests start
// (scripts/tsan) and by the clock test into the sidecar it runs under
// libfaketime (tests/reliability/test_clock.py says why). Built by CMake as
// build*/libtidemark_c11_threads.so, never instrumented.
//
// Why: librdkafka (Debian's 2.0.2 and 2.15.1 alike) creates its threads and
// takes its locks with glibc's C11 threads: thrd_create, mtx_lock, cnd_wait...
// glibc implements those by calling its internal pthread functions directly,
// so ThreadSanitizer's pthread interceptors never see them, and the gcc 12 and
// clang 14 runtimes have no C11-thread interceptors of their own. A thread
// TSan never saw start has no TSan state: its first malloc crashes the process
// (SEGV in SizeClassAllocator64LocalCache::Allocate, "rdk:mock" thread: the
// reason the integration tests could not run under TSan), and the locks it
// takes are invisible, so any data handed between librdkafka's threads and
// ours would look unsynchronised.
//
// Defined here, these functions interpose glibc's (an unversioned definition
// earlier in the search order satisfies librdkafka's thrd_create@GLIBC_2.34)
// and call pthread_create, pthread_mutex_lock... through the PLT, that is
// through TSan's interceptors. glibc's own implementation is the same calls
// (its mtx_t, cnd_t, thrd_t and once_flag are pthread's types), so a process
// that is not instrumented behaves exactly as without this library.

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>
#include <time.h>

_Static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t), "mtx_t is a pthread_mutex_t");
_Static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t), "cnd_t is a pthread_cond_t");
_Static_assert(sizeof(thrd_t) == sizeof(pthread_t), "thrd_t is a pthread_t");
_Static_assert(sizeof(once_flag) == sizeof(pthread_once_t), "once_flag is a pthread_once_t");

static int mapError(int err) {
  switch (err) {
    case 0:
      return thrd_success;
    case ENOMEM:
      return thrd_nomem;
    case ETIMEDOUT:
      return thrd_timedout;
    case EBUSY:
      return thrd_busy;
    default:
      return thrd_error;
  }
}

struct Start {
  thrd_start_t func;
  void* arg;
};

static void* trampoline(void* p) {
  struct Start start = *(struct Start*)p;
  free(p);
  return (void*)(intptr_t)start.func(start.arg);
}

int thrd_create(thrd_t* thr, thrd_start_t func, void* arg) {
  struct Start* start = malloc(sizeof *start);
  if (start == NULL) return thrd_nomem;
  start->func = func;
  start->arg = arg;
  int err = pthread_create((pthread_t*)thr, NULL, trampoline, start);
  if (err != 0) free(start);
  return mapError(err);
}

int thrd_join(thrd_t thr, int* res) {
  void* ret = NULL;
  int err = pthread_join((pthread_t)thr, &ret);
  if (err == 0 && res != NULL) *res = (int)(intptr_t)ret;
  return mapError(err);
}

int thrd_detach(thrd_t thr) { return mapError(pthread_detach((pthread_t)thr)); }
thrd_t thrd_current(void) { return (thrd_t)pthread_self(); }
int thrd_equal(thrd_t a, thrd_t b) { return pthread_equal((pthread_t)a, (pthread_t)b); }
void thrd_exit(int res) { pthread_exit((void*)(intptr_t)res); }
void thrd_yield(void) { sched_yield(); }

int thrd_sleep(const struct timespec* duration, struct timespec* remaining) {
  if (nanosleep(duration, remaining) == 0) return 0;
  return errno == EINTR ? -1 : -2;
}

int mtx_init(mtx_t* mtx, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if (type & mtx_recursive) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  int err = pthread_mutex_init((pthread_mutex_t*)mtx, &attr);
  pthread_mutexattr_destroy(&attr);
  return mapError(err);
}

int mtx_lock(mtx_t* mtx) { return mapError(pthread_mutex_lock((pthread_mutex_t*)mtx)); }
int mtx_trylock(mtx_t* mtx) { return mapError(pthread_mutex_trylock((pthread_mutex_t*)mtx)); }
int mtx_unlock(mtx_t* mtx) { return mapError(pthread_mutex_unlock((pthread_mutex_t*)mtx)); }
void mtx_destroy(mtx_t* mtx) { pthread_mutex_destroy((pthread_mutex_t*)mtx); }

int mtx_timedlock(mtx_t* restrict mtx, const struct timespec* restrict ts) {
  return mapError(pthread_mutex_timedlock((pthread_mutex_t*)mtx, ts));
}

int cnd_init(cnd_t* cond) { return mapError(pthread_cond_init((pthread_cond_t*)cond, NULL)); }
int cnd_signal(cnd_t* cond) { return mapError(pthread_cond_signal((pthread_cond_t*)cond)); }
int cnd_broadcast(cnd_t* cond) { return mapError(pthread_cond_broadcast((pthread_cond_t*)cond)); }
void cnd_destroy(cnd_t* cond) { pthread_cond_destroy((pthread_cond_t*)cond); }

int cnd_wait(cnd_t* cond, mtx_t* mtx) {
  return mapError(pthread_cond_wait((pthread_cond_t*)cond, (pthread_mutex_t*)mtx));
}

int cnd_timedwait(cnd_t* restrict cond, mtx_t* restrict mtx, const struct timespec* restrict ts) {
  return mapError(
      pthread_cond_timedwait((pthread_cond_t*)cond, (pthread_mutex_t*)mtx, ts));
}

void call_once(once_flag* flag, void (*func)(void)) { pthread_once((pthread_once_t*)flag, func); }
