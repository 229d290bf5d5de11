/*
 * The kernels' thread pool (kernels/flux.c, kernels/learned.c): a parallel loop whose
 * idle threads sleep, and whose caller never waits for a thread that has not started.
 *
 * pm_parallel_for(loop, n, nthreads) runs loop->run(ctx, scratch, i) for i = 0 .. n-1 on
 * the calling thread and up to nthreads-1 pool threads.  Indices are handed out one at a
 * time, in order, to whichever thread asks first (a dynamic schedule); each thread that
 * takes one makes its scratch once (loop->init) and frees it when no index is left.
 * The call returns as soon as every index is done: a pool thread that was not scheduled
 * in time finds nothing left when it runs, and nobody waited for it.  (An OpenMP parallel
 * region ends with a barrier that waits for every thread of the team: on a machine busy
 * with other processes each region then costs a scheduling delay, and waiting threads
 * spin unless OMP_WAIT_POLICY=PASSIVE reached the runtime before torch loaded it.)
 *
 * Pool threads (named "pm-pool" on Linux) block on a condition variable between loops
 * (no spinning); they are made
 * on first use, as many as the largest nthreads asked for minus one, and live as long as
 * the process.  A loop that starts while another is running (two Python threads calling a
 * kernel) runs on its caller's thread alone.  After fork() the child starts with no pool.
 * Which thread runs an index never changes a result: callers combine per-index outputs in
 * index order.
 */
#ifndef PM_POOL_H
#define PM_POOL_H

#include <pthread.h>
#include <stdint.h>
#ifdef __linux__
#include <sys/prctl.h> /* PR_SET_NAME: the pool's threads are "pm-pool" in top -H and /proc */
#endif

typedef struct {
    void *(*init)(void *ctx);                         /* a thread's scratch; NULL: out of memory */
    void (*run)(void *ctx, void *scratch, int64_t i); /* one index */
    void (*fini)(void *scratch);                      /* free the scratch */
    void *ctx;
} pm_loop;

typedef struct {
    const pm_loop *loop;
    int64_t n, next, done;
    int helpers; /* pool threads that may still join */
    int failed;  /* a scratch could not be made */
} pm_job;

static pthread_mutex_t pm_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pm_wake = PTHREAD_COND_INITIALIZER; /* a job was posted */
static pthread_cond_t pm_idle = PTHREAD_COND_INITIALIZER; /* a job's last index is done */
static pm_job *pm_current;                                /* the open job, or NULL */
static int pm_threads;                                    /* pool threads started */
static pthread_once_t pm_once = PTHREAD_ONCE_INIT;

/* Take and run indices of job j until none is left.  Called and returns with pm_mutex
 * held; j is not touched once its last index is done (its caller may have returned). */
static void pm_work(pm_job *j) {
    const pm_loop loop = *j->loop; /* a copy: the caller's may be gone when the scratch is freed */
    void *scratch = NULL;
    int made = 0;
    while (j->next < j->n) {
        const int64_t i = j->next++;
        pthread_mutex_unlock(&pm_mutex);
        if (!made) {
            scratch = loop.init(loop.ctx);
            made = 1;
        }
        if (scratch) loop.run(loop.ctx, scratch, i);
        pthread_mutex_lock(&pm_mutex);
        if (!scratch) j->failed = 1;
        if (++j->done == j->n) {
            pthread_cond_broadcast(&pm_idle);
            break;
        }
    }
    if (scratch) {
        pthread_mutex_unlock(&pm_mutex);
        loop.fini(scratch); /* the scratch is this thread's own: no lock needed */
        pthread_mutex_lock(&pm_mutex);
    }
}

static void *pm_thread(void *arg) {
    (void)arg;
#ifdef __linux__
    prctl(PR_SET_NAME, "pm-pool", 0, 0, 0);
#endif
    pthread_mutex_lock(&pm_mutex);
    for (;;) {
        pm_job *j = pm_current;
        if (j && j->helpers > 0 && j->next < j->n) {
            j->helpers--;
            pm_work(j);
        } else {
            pthread_cond_wait(&pm_wake, &pm_mutex);
        }
    }
    return NULL;
}

static void pm_after_fork(void) {
    /* the child has only the forking thread: no pool, nothing running */
    pthread_mutex_init(&pm_mutex, NULL);
    pthread_cond_init(&pm_wake, NULL);
    pthread_cond_init(&pm_idle, NULL);
    pm_current = NULL;
    pm_threads = 0;
}

static void pm_register_fork(void) { pthread_atfork(NULL, NULL, pm_after_fork); }

/* Returns 0, or -2 when a thread's scratch could not be made (indices are then skipped). */
static int pm_parallel_for(const pm_loop *loop, int64_t n, int nthreads) {
    pm_job j = {loop, n, 0, 0, 0, 0};
    if (n < 1) return 0;
    if (nthreads > n) nthreads = (int)n;
    pthread_once(&pm_once, pm_register_fork);
    pthread_mutex_lock(&pm_mutex);
    if (pm_current == NULL && nthreads > 1) {
        while (pm_threads < nthreads - 1) {
            pthread_t t;
            pthread_attr_t attr;
            pthread_attr_init(&attr);
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            const int ok = pthread_create(&t, &attr, pm_thread, NULL) == 0;
            pthread_attr_destroy(&attr);
            if (!ok) break; /* fewer helpers: the loop still completes */
            pm_threads++;
        }
        j.helpers = nthreads - 1;
        pm_current = &j;
        pthread_cond_broadcast(&pm_wake);
    }
    pm_work(&j);
    while (j.done < j.n) pthread_cond_wait(&pm_idle, &pm_mutex);
    if (pm_current == &j) pm_current = NULL;
    pthread_mutex_unlock(&pm_mutex);
    return j.failed ? -2 : 0;
}

#endif
