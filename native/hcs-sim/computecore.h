/*
 * The part of Windows' ComputeCore.h / ComputeDefs.h that hcsshim binds
 * (reference/hcsshim.md §6.2), restated for the Linux simulator so the same
 * koffi declarations load either library. Types keep Windows' sizes: HRESULT
 * and DWORD are 32 bits, handles are pointer-sized, strings are UTF-16.
 */
#ifndef PODVISOR_COMPUTECORE_H
#define PODVISOR_COMPUTECORE_H

#include <stdint.h>
#include <uchar.h>

typedef int32_t HRESULT;
typedef uint32_t DWORD;
typedef char16_t WCHAR;
typedef const WCHAR *PCWSTR;
typedef WCHAR *PWSTR;
typedef void *HANDLE;

typedef void *HCS_OPERATION;
typedef void *HCS_SYSTEM;
typedef void *HCS_PROCESS;

typedef enum {
  HcsEventInvalid = 0x00000000,
  HcsEventSystemExited = 0x00000001,
  HcsEventProcessExited = 0x00010000,
  HcsEventOperationCallback = 0x01000000,
  HcsEventServiceDisconnect = 0x02000000,
} HCS_EVENT_TYPE;

typedef struct {
  HCS_EVENT_TYPE Type;
  PCWSTR EventData;
  HCS_OPERATION Operation;
} HCS_EVENT;

typedef enum {
  HcsEventOptionNone = 0,
  HcsEventOptionEnableOperationCallbacks = 1,
  HcsEventOptionEnableLiveMigrationEvents = 4,
} HCS_EVENT_OPTIONS;

/*
 * On Windows the std handles are pipe HANDLEs. The simulator puts pipe file
 * descriptors in them (always >= 3, so NULL still means "no pipe"); the
 * caller owns them, as it owns the HANDLEs on Windows.
 */
typedef struct {
  DWORD ProcessId;
  DWORD Reserved;
  HANDLE StdInput;
  HANDLE StdOutput;
  HANDLE StdError;
} HCS_PROCESS_INFORMATION;

typedef void (*HCS_OPERATION_COMPLETION)(HCS_OPERATION operation, void *context);
typedef void (*HCS_EVENT_CALLBACK)(HCS_EVENT *event, void *context);

#define HCS_INFINITE 0xFFFFFFFFu

#define S_OK ((HRESULT)0)
#define E_NOTIMPL ((HRESULT)0x80004001)
#define E_INVALIDARG ((HRESULT)0x80070057)
#define E_POINTER ((HRESULT)0x80004003)
#define E_OUTOFMEMORY ((HRESULT)0x8007000E)
#define HRESULT_ERROR_NOT_FOUND ((HRESULT)0x80070490)
#define HRESULT_ERROR_INVALID_HANDLE ((HRESULT)0x80070006)
#define HRESULT_ERROR_FILE_NOT_FOUND ((HRESULT)0x80070002)
#define HCS_E_INVALID_STATE ((HRESULT)0x80370105)
#define HCS_E_INVALID_JSON ((HRESULT)0x8037010D)
#define HCS_E_SYSTEM_NOT_FOUND ((HRESULT)0x8037010E)
#define HCS_E_SYSTEM_ALREADY_EXISTS ((HRESULT)0x8037010F)
#define HCS_E_SYSTEM_ALREADY_STOPPED ((HRESULT)0x80370110)
#define HCS_E_OPERATION_NOT_STARTED ((HRESULT)0x80370115)
#define HCS_E_OPERATION_ALREADY_STARTED ((HRESULT)0x80370116)
#define HCS_E_OPERATION_PENDING ((HRESULT)0x80370117)
#define HCS_E_OPERATION_TIMEOUT ((HRESULT)0x80370118)
#define HCS_E_PROCESS_ALREADY_STOPPED ((HRESULT)0x8037011F)
/*
 * What a cancelled operation completes with. reference/hcsshim.md §6 names no
 * HCS code for it, so this is HRESULT_FROM_WIN32(ERROR_CANCELLED), the
 * generic Windows "the operation was cancelled".
 */
#define HRESULT_ERROR_CANCELLED ((HRESULT)0x800704C7)

#define PODVISOR_EXPORT __attribute__((visibility("default")))

PODVISOR_EXPORT HCS_OPERATION HcsCreateOperation(const void *context, HCS_OPERATION_COMPLETION callback);
PODVISOR_EXPORT void HcsCloseOperation(HCS_OPERATION operation);
PODVISOR_EXPORT void *HcsGetOperationContext(HCS_OPERATION operation);
PODVISOR_EXPORT HRESULT HcsSetOperationCallback(HCS_OPERATION operation, const void *context, HCS_OPERATION_COMPLETION callback);
PODVISOR_EXPORT HRESULT HcsGetOperationResult(HCS_OPERATION operation, PWSTR *resultDocument);
PODVISOR_EXPORT HRESULT HcsGetOperationResultAndProcessInfo(HCS_OPERATION operation, HCS_PROCESS_INFORMATION *processInformation, PWSTR *resultDocument);
PODVISOR_EXPORT HRESULT HcsWaitForOperationResult(HCS_OPERATION operation, DWORD timeoutMs, PWSTR *resultDocument);
PODVISOR_EXPORT HRESULT HcsWaitForOperationResultAndProcessInfo(HCS_OPERATION operation, DWORD timeoutMs, HCS_PROCESS_INFORMATION *processInformation, PWSTR *resultDocument);
PODVISOR_EXPORT HRESULT HcsCancelOperation(HCS_OPERATION operation);
/* HCS_RESOURCE_TYPE is a 32-bit enum; the simulator accepts none of them. */
PODVISOR_EXPORT HRESULT HcsAddResourceToOperation(HCS_OPERATION operation, uint32_t type, PCWSTR uri, HANDLE handle);

PODVISOR_EXPORT HRESULT HcsEnumerateComputeSystems(PCWSTR query, HCS_OPERATION operation);

PODVISOR_EXPORT HRESULT HcsCreateComputeSystem(PCWSTR id, PCWSTR configuration, HCS_OPERATION operation, const void *securityDescriptor, HCS_SYSTEM *computeSystem);
PODVISOR_EXPORT HRESULT HcsOpenComputeSystem(PCWSTR id, DWORD requestedAccess, HCS_SYSTEM *computeSystem);
PODVISOR_EXPORT void HcsCloseComputeSystem(HCS_SYSTEM computeSystem);
PODVISOR_EXPORT HRESULT HcsStartComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
PODVISOR_EXPORT HRESULT HcsShutDownComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
PODVISOR_EXPORT HRESULT HcsTerminateComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
PODVISOR_EXPORT HRESULT HcsPauseComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
PODVISOR_EXPORT HRESULT HcsResumeComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
PODVISOR_EXPORT HRESULT HcsSaveComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
PODVISOR_EXPORT HRESULT HcsGetComputeSystemProperties(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR propertyQuery);
PODVISOR_EXPORT HRESULT HcsModifyComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR configuration, HANDLE identity);
PODVISOR_EXPORT HRESULT HcsSetComputeSystemCallback(HCS_SYSTEM computeSystem, HCS_EVENT_OPTIONS callbackOptions, const void *context, HCS_EVENT_CALLBACK callback);
PODVISOR_EXPORT HRESULT HcsInitializeLiveMigrationOnSource(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
PODVISOR_EXPORT HRESULT HcsStartLiveMigrationOnSource(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
PODVISOR_EXPORT HRESULT HcsStartLiveMigrationTransfer(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
PODVISOR_EXPORT HRESULT HcsFinalizeLiveMigration(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
PODVISOR_EXPORT HRESULT HcsCancelLiveMigration(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);

PODVISOR_EXPORT HRESULT HcsCreateProcess(HCS_SYSTEM computeSystem, PCWSTR processParameters, HCS_OPERATION operation, const void *securityDescriptor, HCS_PROCESS *process);
PODVISOR_EXPORT HRESULT HcsOpenProcess(HCS_SYSTEM computeSystem, DWORD processId, DWORD requestedAccess, HCS_PROCESS *process);
PODVISOR_EXPORT void HcsCloseProcess(HCS_PROCESS process);
PODVISOR_EXPORT HRESULT HcsTerminateProcess(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR options);
PODVISOR_EXPORT HRESULT HcsSignalProcess(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR options);
PODVISOR_EXPORT HRESULT HcsGetProcessInfo(HCS_PROCESS process, HCS_OPERATION operation);
PODVISOR_EXPORT HRESULT HcsGetProcessProperties(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR propertyQuery);
PODVISOR_EXPORT HRESULT HcsModifyProcess(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR settings);
PODVISOR_EXPORT HRESULT HcsSetProcessCallback(HCS_PROCESS process, HCS_EVENT_OPTIONS callbackOptions, void *context, HCS_EVENT_CALLBACK callback);

/* Service-wide calls: no handle, no operation; the result (or the error document) comes back in `result`. */
PODVISOR_EXPORT HRESULT HcsGetServiceProperties(PCWSTR propertyQuery, PWSTR *result);
PODVISOR_EXPORT HRESULT HcsModifyServiceSettings(PCWSTR settings, PWSTR *result);

/* kernel32's LocalFree, for the result documents the caller owns. Returns NULL on success. */
PODVISOR_EXPORT void *LocalFree(void *memory);

/* Simulator-only: what a test checks after each case. */
PODVISOR_EXPORT int PodvisorSimOpenHandles(void);
PODVISOR_EXPORT int PodvisorSimOutstandingStrings(void);
PODVISOR_EXPORT int PodvisorSimLiveThreads(void);
PODVISOR_EXPORT int PodvisorSimSystems(void);
/* Closes every handle still open (what process exit does on Windows); returns how many. */
PODVISOR_EXPORT int PodvisorSimCloseAllHandles(void);
/* HcsClose* calls on a handle that was not open: a handle closed twice, or one never given out. */
PODVISOR_EXPORT int PodvisorSimStaleCloses(void);
/* Operations closed while their completion callback had not been delivered yet. */
PODVISOR_EXPORT int PodvisorSimOperationsClosedBeforeCompletion(void);

#endif
