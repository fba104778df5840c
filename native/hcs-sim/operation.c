/* HCS_OPERATION: how every asynchronous call reports its outcome. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "handles.h"

HCS_OPERATION HcsCreateOperation(const void *context, HCS_OPERATION_COMPLETION callback) {
  pthread_mutex_lock(&g_lock);
  sim_op *op = (sim_op *)handle_new_locked(H_OP, sizeof(sim_op));
  if (op != NULL) {
    op->h.callback = (void *)callback;
    op->h.context = (void *)context;
    pthread_cond_init(&op->cond, NULL);
  }
  pthread_mutex_unlock(&g_lock);
  return op;
}

void HcsCloseOperation(HCS_OPERATION operation) {
  pthread_mutex_lock(&g_lock);
  handle *h = handle_lookup_locked(operation, H_OP);
  if (h != NULL) handle_close_locked(h);
  else stale_close_locked();
  pthread_mutex_unlock(&g_lock);
}

void *HcsGetOperationContext(HCS_OPERATION operation) {
  pthread_mutex_lock(&g_lock);
  handle *h = handle_lookup_locked(operation, H_OP);
  void *ctx = h == NULL ? NULL : h->context;
  pthread_mutex_unlock(&g_lock);
  return ctx;
}

HRESULT HcsSetOperationCallback(HCS_OPERATION operation, const void *context, HCS_OPERATION_COMPLETION callback) {
  pthread_mutex_lock(&g_lock);
  sim_op *op = (sim_op *)handle_lookup_locked(operation, H_OP);
  HRESULT hr = S_OK;
  if (op == NULL) hr = HRESULT_ERROR_INVALID_HANDLE;
  else if (op->started) hr = HCS_E_OPERATION_ALREADY_STARTED;
  else {
    op->h.callback = (void *)callback;
    op->h.context = (void *)context;
  }
  pthread_mutex_unlock(&g_lock);
  return hr;
}

/* With g_lock held: the outcome of a finished operation, handing the pipes over once. */
static HRESULT result_locked(sim_op *op, HCS_PROCESS_INFORMATION *info, PWSTR *doc) {
  if (doc != NULL) *doc = NULL;
  if (!op->started) return HCS_E_OPERATION_NOT_STARTED;
  if (!op->done) return HCS_E_OPERATION_PENDING;
  if (doc != NULL && op->result != NULL) *doc = caller_string(op->result);
  if (info != NULL) {
    *info = op->info;
    if (op->info_taken) {
      /* The pipes have one owner: a second caller gets the pid only. */
      info->StdInput = info->StdOutput = info->StdError = NULL;
    }
    op->info_taken = 1;
  }
  return op->hr;
}

static HRESULT wait_locked(sim_op *op, DWORD timeout_ms) {
  if (!op->started) return HCS_E_OPERATION_NOT_STARTED;
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += timeout_ms / 1000;
  deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  while (!op->done) {
    if (timeout_ms == HCS_INFINITE) pthread_cond_wait(&op->cond, &g_lock);
    else if (pthread_cond_timedwait(&op->cond, &g_lock, &deadline) == ETIMEDOUT && !op->done) return HCS_E_OPERATION_TIMEOUT;
  }
  return S_OK;
}

HRESULT HcsGetOperationResult(HCS_OPERATION operation, PWSTR *resultDocument) {
  return HcsGetOperationResultAndProcessInfo(operation, NULL, resultDocument);
}

HRESULT HcsGetOperationResultAndProcessInfo(HCS_OPERATION operation, HCS_PROCESS_INFORMATION *processInformation, PWSTR *resultDocument) {
  pthread_mutex_lock(&g_lock);
  sim_op *op = (sim_op *)handle_lookup_locked(operation, H_OP);
  HRESULT hr = op == NULL ? HRESULT_ERROR_INVALID_HANDLE : result_locked(op, processInformation, resultDocument);
  pthread_mutex_unlock(&g_lock);
  return hr;
}

HRESULT HcsWaitForOperationResult(HCS_OPERATION operation, DWORD timeoutMs, PWSTR *resultDocument) {
  return HcsWaitForOperationResultAndProcessInfo(operation, timeoutMs, NULL, resultDocument);
}

HRESULT HcsWaitForOperationResultAndProcessInfo(HCS_OPERATION operation, DWORD timeoutMs, HCS_PROCESS_INFORMATION *processInformation, PWSTR *resultDocument) {
  pthread_mutex_lock(&g_lock);
  sim_op *op = (sim_op *)handle_lookup_locked(operation, H_OP);
  HRESULT hr;
  if (op == NULL) hr = HRESULT_ERROR_INVALID_HANDLE;
  else {
    handle_ref_locked(&op->h); /* a close while we wait must not free it under us */
    hr = wait_locked(op, timeoutMs);
    if (hr == S_OK) hr = result_locked(op, processInformation, resultDocument);
    else if (resultDocument != NULL) *resultDocument = NULL;
    handle_unref_locked(&op->h);
  }
  pthread_mutex_unlock(&g_lock);
  return hr;
}

HRESULT HcsCancelOperation(HCS_OPERATION operation) {
  pthread_mutex_lock(&g_lock);
  sim_op *op = (sim_op *)handle_lookup_locked(operation, H_OP);
  HRESULT hr = S_OK;
  if (op == NULL) hr = HRESULT_ERROR_INVALID_HANDLE;
  else if (!op->started) hr = HCS_E_OPERATION_NOT_STARTED;
  /* §6.5 names no code for "already finished"; invalid state says what the caller must know: nothing was cancelled. */
  else if (op->done) hr = HCS_E_INVALID_STATE;
  else {
    op->cancelled = 1;
    /* It completes now, callback and all, exactly as if the call had failed this way. */
    op_complete_locked(op, HRESULT_ERROR_CANCELLED, error_document(HRESULT_ERROR_CANCELLED, "the operation was cancelled"), NULL);
  }
  pthread_mutex_unlock(&g_lock);
  return hr;
}

HRESULT HcsAddResourceToOperation(HCS_OPERATION operation, uint32_t type, PCWSTR uri, HANDLE handle) {
  (void)type;
  (void)uri;
  (void)handle;
  pthread_mutex_lock(&g_lock);
  /* Resources only feed live migration, which the simulator does not do: refuse them plainly. */
  HRESULT hr = handle_lookup_locked(operation, H_OP) == NULL ? HRESULT_ERROR_INVALID_HANDLE : E_NOTIMPL;
  pthread_mutex_unlock(&g_lock);
  return hr;
}
