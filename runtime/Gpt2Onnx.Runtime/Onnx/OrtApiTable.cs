using System.Runtime.InteropServices;

namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>
/// ONNX Runtime's OrtApi function table, in the C header's order (onnxruntime_c_api.h). The table only
/// ever grows at its end, so this prefix (through GetBuildInfoString, entry 254) is valid for every
/// library that grants <see cref="OrtApi.Version"/>; entries this project does not call are typed void*
/// and keep their header names so the order can be audited. Pointer conventions: every "IntPtr"
/// argument is an opaque Ort* object; an IntPtr return is an OrtStatus*, NULL on success.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct OrtApiTable
{
    public void* CreateStatus; // 0
    public delegate* unmanaged<IntPtr, int> GetErrorCode; // 1
    public delegate* unmanaged<IntPtr, byte*> GetErrorMessage; // 2
    public delegate* unmanaged<int, byte*, IntPtr*, IntPtr> CreateEnv; // 3
    public void* CreateEnvWithCustomLogger; // 4
    public void* EnableTelemetryEvents; // 5
    public void* DisableTelemetryEvents; // 6
    public delegate* unmanaged<IntPtr, byte*, IntPtr, IntPtr*, IntPtr> CreateSession; // 7
    public delegate* unmanaged<IntPtr, void*, nuint, IntPtr, IntPtr*, IntPtr> CreateSessionFromArray; // 8
    public delegate* unmanaged<IntPtr, IntPtr, byte**, IntPtr*, nuint, byte**, nuint, IntPtr*, IntPtr> Run; // 9
    public delegate* unmanaged<IntPtr*, IntPtr> CreateSessionOptions; // 10
    public void* SetOptimizedModelFilePath; // 11
    public void* CloneSessionOptions; // 12
    public void* SetSessionExecutionMode; // 13
    public delegate* unmanaged<IntPtr, byte*, IntPtr> EnableProfiling; // 14
    public void* DisableProfiling; // 15
    public void* EnableMemPattern; // 16
    public void* DisableMemPattern; // 17
    public void* EnableCpuMemArena; // 18
    public void* DisableCpuMemArena; // 19
    public void* SetSessionLogId; // 20
    public void* SetSessionLogVerbosityLevel; // 21
    public delegate* unmanaged<IntPtr, int, IntPtr> SetSessionLogSeverityLevel; // 22
    public delegate* unmanaged<IntPtr, int, IntPtr> SetSessionGraphOptimizationLevel; // 23
    public delegate* unmanaged<IntPtr, int, IntPtr> SetIntraOpNumThreads; // 24
    public delegate* unmanaged<IntPtr, int, IntPtr> SetInterOpNumThreads; // 25
    public void* CreateCustomOpDomain; // 26
    public void* CustomOpDomain_Add; // 27
    public void* AddCustomOpDomain; // 28
    public void* RegisterCustomOpsLibrary; // 29
    public delegate* unmanaged<IntPtr, nuint*, IntPtr> SessionGetInputCount; // 30
    public delegate* unmanaged<IntPtr, nuint*, IntPtr> SessionGetOutputCount; // 31
    public delegate* unmanaged<IntPtr, nuint*, IntPtr> SessionGetOverridableInitializerCount; // 32
    public delegate* unmanaged<IntPtr, nuint, IntPtr*, IntPtr> SessionGetInputTypeInfo; // 33
    public delegate* unmanaged<IntPtr, nuint, IntPtr*, IntPtr> SessionGetOutputTypeInfo; // 34
    public delegate* unmanaged<IntPtr, nuint, IntPtr*, IntPtr> SessionGetOverridableInitializerTypeInfo; // 35
    public delegate* unmanaged<IntPtr, nuint, IntPtr, byte**, IntPtr> SessionGetInputName; // 36
    public delegate* unmanaged<IntPtr, nuint, IntPtr, byte**, IntPtr> SessionGetOutputName; // 37
    public delegate* unmanaged<IntPtr, nuint, IntPtr, byte**, IntPtr> SessionGetOverridableInitializerName; // 38
    public delegate* unmanaged<IntPtr*, IntPtr> CreateRunOptions; // 39
    public void* RunOptionsSetRunLogVerbosityLevel; // 40
    public void* RunOptionsSetRunLogSeverityLevel; // 41
    public void* RunOptionsSetRunTag; // 42
    public void* RunOptionsGetRunLogVerbosityLevel; // 43
    public void* RunOptionsGetRunLogSeverityLevel; // 44
    public void* RunOptionsGetRunTag; // 45
    public void* RunOptionsSetTerminate; // 46
    public void* RunOptionsUnsetTerminate; // 47
    public delegate* unmanaged<IntPtr, long*, nuint, int, IntPtr*, IntPtr> CreateTensorAsOrtValue; // 48
    public delegate* unmanaged<IntPtr, void*, nuint, long*, nuint, int, IntPtr*, IntPtr> CreateTensorWithDataAsOrtValue; // 49
    public void* IsTensor; // 50
    public delegate* unmanaged<IntPtr, void**, IntPtr> GetTensorMutableData; // 51
    public void* FillStringTensor; // 52
    public void* GetStringTensorDataLength; // 53
    public void* GetStringTensorContent; // 54
    public delegate* unmanaged<IntPtr, IntPtr*, IntPtr> CastTypeInfoToTensorInfo; // 55
    public delegate* unmanaged<IntPtr, int*, IntPtr> GetOnnxTypeFromTypeInfo; // 56
    public void* CreateTensorTypeAndShapeInfo; // 57
    public void* SetTensorElementType; // 58
    public void* SetDimensions; // 59
    public delegate* unmanaged<IntPtr, int*, IntPtr> GetTensorElementType; // 60
    public delegate* unmanaged<IntPtr, nuint*, IntPtr> GetDimensionsCount; // 61
    public delegate* unmanaged<IntPtr, long*, nuint, IntPtr> GetDimensions; // 62
    public delegate* unmanaged<IntPtr, byte**, nuint, IntPtr> GetSymbolicDimensions; // 63
    public delegate* unmanaged<IntPtr, nuint*, IntPtr> GetTensorShapeElementCount; // 64
    public delegate* unmanaged<IntPtr, IntPtr*, IntPtr> GetTensorTypeAndShape; // 65
    public void* GetTypeInfo; // 66
    public void* GetValueType; // 67
    public delegate* unmanaged<byte*, int, int, int, IntPtr*, IntPtr> CreateMemoryInfo; // 68
    public delegate* unmanaged<int, int, IntPtr*, IntPtr> CreateCpuMemoryInfo; // 69
    public void* CompareMemoryInfo; // 70
    public void* MemoryInfoGetName; // 71
    public void* MemoryInfoGetId; // 72
    public void* MemoryInfoGetMemType; // 73
    public void* MemoryInfoGetType; // 74
    public void* AllocatorAlloc; // 75
    public delegate* unmanaged<IntPtr, void*, IntPtr> AllocatorFree; // 76
    public void* AllocatorGetInfo; // 77
    public delegate* unmanaged<IntPtr*, IntPtr> GetAllocatorWithDefaultOptions; // 78
    public void* AddFreeDimensionOverride; // 79
    public void* GetValue; // 80
    public void* GetValueCount; // 81
    public void* CreateValue; // 82
    public void* CreateOpaqueValue; // 83
    public void* GetOpaqueValue; // 84
    public void* KernelInfoGetAttribute_float; // 85
    public void* KernelInfoGetAttribute_int64; // 86
    public void* KernelInfoGetAttribute_string; // 87
    public void* KernelContext_GetInputCount; // 88
    public void* KernelContext_GetOutputCount; // 89
    public void* KernelContext_GetInput; // 90
    public void* KernelContext_GetOutput; // 91
    public delegate* unmanaged<IntPtr, void> ReleaseEnv; // 92
    public delegate* unmanaged<IntPtr, void> ReleaseStatus; // 93
    public delegate* unmanaged<IntPtr, void> ReleaseMemoryInfo; // 94
    public delegate* unmanaged<IntPtr, void> ReleaseSession; // 95
    public delegate* unmanaged<IntPtr, void> ReleaseValue; // 96
    public delegate* unmanaged<IntPtr, void> ReleaseRunOptions; // 97
    public delegate* unmanaged<IntPtr, void> ReleaseTypeInfo; // 98
    public delegate* unmanaged<IntPtr, void> ReleaseTensorTypeAndShapeInfo; // 99
    public delegate* unmanaged<IntPtr, void> ReleaseSessionOptions; // 100
    public void* ReleaseCustomOpDomain; // 101
    public void* GetDenotationFromTypeInfo; // 102
    public void* CastTypeInfoToMapTypeInfo; // 103
    public void* CastTypeInfoToSequenceTypeInfo; // 104
    public void* GetMapKeyType; // 105
    public void* GetMapValueType; // 106
    public void* GetSequenceElementType; // 107
    public void* ReleaseMapTypeInfo; // 108
    public void* ReleaseSequenceTypeInfo; // 109
    public void* SessionEndProfiling; // 110
    public delegate* unmanaged<IntPtr, IntPtr*, IntPtr> SessionGetModelMetadata; // 111
    public void* ModelMetadataGetProducerName; // 112
    public void* ModelMetadataGetGraphName; // 113
    public void* ModelMetadataGetDomain; // 114
    public void* ModelMetadataGetDescription; // 115
    public delegate* unmanaged<IntPtr, IntPtr, byte*, byte**, IntPtr> ModelMetadataLookupCustomMetadataMap; // 116
    public void* ModelMetadataGetVersion; // 117
    public delegate* unmanaged<IntPtr, void> ReleaseModelMetadata; // 118
    public void* CreateEnvWithGlobalThreadPools; // 119
    public void* DisablePerSessionThreads; // 120
    public void* CreateThreadingOptions; // 121
    public void* ReleaseThreadingOptions; // 122
    public delegate* unmanaged<IntPtr, IntPtr, byte***, long*, IntPtr> ModelMetadataGetCustomMetadataMapKeys; // 123
    public void* AddFreeDimensionOverrideByName; // 124
    public void* GetAvailableProviders; // 125
    public void* ReleaseAvailableProviders; // 126
    public void* GetStringTensorElementLength; // 127
    public void* GetStringTensorElement; // 128
    public void* FillStringTensorElement; // 129
    public delegate* unmanaged<IntPtr, byte*, byte*, IntPtr> AddSessionConfigEntry; // 130
    public void* CreateAllocator; // 131
    public void* ReleaseAllocator; // 132
    public delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr> RunWithBinding; // 133
    public delegate* unmanaged<IntPtr, IntPtr*, IntPtr> CreateIoBinding; // 134
    public delegate* unmanaged<IntPtr, void> ReleaseIoBinding; // 135
    public delegate* unmanaged<IntPtr, byte*, IntPtr, IntPtr> BindInput; // 136
    public delegate* unmanaged<IntPtr, byte*, IntPtr, IntPtr> BindOutput; // 137
    public delegate* unmanaged<IntPtr, byte*, IntPtr, IntPtr> BindOutputToDevice; // 138
    public void* GetBoundOutputNames; // 139
    public delegate* unmanaged<IntPtr, IntPtr, IntPtr**, nuint*, IntPtr> GetBoundOutputValues; // 140
    public delegate* unmanaged<IntPtr, void> ClearBoundInputs; // 141
    public delegate* unmanaged<IntPtr, void> ClearBoundOutputs; // 142
    public void* TensorAt; // 143
    public void* CreateAndRegisterAllocator; // 144
    public void* SetLanguageProjection; // 145
    public void* SessionGetProfilingStartTimeNs; // 146
    public void* SetGlobalIntraOpNumThreads; // 147
    public void* SetGlobalInterOpNumThreads; // 148
    public void* SetGlobalSpinControl; // 149
    public void* AddInitializer; // 150
    public void* CreateEnvWithCustomLoggerAndGlobalThreadPools; // 151
    public void* SessionOptionsAppendExecutionProvider_CUDA; // 152
    public void* SessionOptionsAppendExecutionProvider_ROCM; // 153
    public void* SessionOptionsAppendExecutionProvider_OpenVINO; // 154
    public void* SetGlobalDenormalAsZero; // 155
    public void* CreateArenaCfg; // 156
    public void* ReleaseArenaCfg; // 157
    public void* ModelMetadataGetGraphDescription; // 158
    public void* SessionOptionsAppendExecutionProvider_TensorRT; // 159
    public void* SetCurrentGpuDeviceId; // 160
    public void* GetCurrentGpuDeviceId; // 161
    public void* KernelInfoGetAttributeArray_float; // 162
    public void* KernelInfoGetAttributeArray_int64; // 163
    public void* CreateArenaCfgV2; // 164
    public void* AddRunConfigEntry; // 165
    public void* CreatePrepackedWeightsContainer; // 166
    public void* ReleasePrepackedWeightsContainer; // 167
    public void* CreateSessionWithPrepackedWeightsContainer; // 168
    public void* CreateSessionFromArrayWithPrepackedWeightsContainer; // 169
    public void* SessionOptionsAppendExecutionProvider_TensorRT_V2; // 170
    public void* CreateTensorRTProviderOptions; // 171
    public void* UpdateTensorRTProviderOptions; // 172
    public void* GetTensorRTProviderOptionsAsString; // 173
    public void* ReleaseTensorRTProviderOptions; // 174
    public void* EnableOrtCustomOps; // 175
    public delegate* unmanaged<IntPtr, IntPtr, IntPtr> RegisterAllocator; // 176
    public void* UnregisterAllocator; // 177
    public void* IsSparseTensor; // 178
    public void* CreateSparseTensorAsOrtValue; // 179
    public void* FillSparseTensorCoo; // 180
    public void* FillSparseTensorCsr; // 181
    public void* FillSparseTensorBlockSparse; // 182
    public void* CreateSparseTensorWithValuesAsOrtValue; // 183
    public void* UseCooIndices; // 184
    public void* UseCsrIndices; // 185
    public void* UseBlockSparseIndices; // 186
    public void* GetSparseTensorFormat; // 187
    public void* GetSparseTensorValuesTypeAndShape; // 188
    public void* GetSparseTensorValues; // 189
    public void* GetSparseTensorIndicesTypeShape; // 190
    public void* GetSparseTensorIndices; // 191
    public void* HasValue; // 192
    public void* KernelContext_GetGPUComputeStream; // 193
    public void* GetTensorMemoryInfo; // 194
    public void* GetExecutionProviderApi; // 195
    public void* SessionOptionsSetCustomCreateThreadFn; // 196
    public void* SessionOptionsSetCustomThreadCreationOptions; // 197
    public void* SessionOptionsSetCustomJoinThreadFn; // 198
    public void* SetGlobalCustomCreateThreadFn; // 199
    public void* SetGlobalCustomThreadCreationOptions; // 200
    public void* SetGlobalCustomJoinThreadFn; // 201
    public void* SynchronizeBoundInputs; // 202
    public void* SynchronizeBoundOutputs; // 203
    public delegate* unmanaged<IntPtr, IntPtr, IntPtr> SessionOptionsAppendExecutionProvider_CUDA_V2; // 204
    public delegate* unmanaged<IntPtr*, IntPtr> CreateCUDAProviderOptions; // 205
    public delegate* unmanaged<IntPtr, byte**, byte**, nuint, IntPtr> UpdateCUDAProviderOptions; // 206
    public void* GetCUDAProviderOptionsAsString; // 207
    public delegate* unmanaged<IntPtr, void> ReleaseCUDAProviderOptions; // 208
    public void* SessionOptionsAppendExecutionProvider_MIGraphX; // 209
    public void* AddExternalInitializers; // 210
    public void* CreateOpAttr; // 211
    public void* ReleaseOpAttr; // 212
    public void* CreateOp; // 213
    public void* InvokeOp; // 214
    public void* ReleaseOp; // 215
    public void* SessionOptionsAppendExecutionProvider; // 216
    public void* CopyKernelInfo; // 217
    public void* ReleaseKernelInfo; // 218
    public void* GetTrainingApi; // 219
    public void* SessionOptionsAppendExecutionProvider_CANN; // 220
    public void* CreateCANNProviderOptions; // 221
    public void* UpdateCANNProviderOptions; // 222
    public void* GetCANNProviderOptionsAsString; // 223
    public void* ReleaseCANNProviderOptions; // 224
    public void* MemoryInfoGetDeviceType; // 225
    public void* UpdateEnvWithCustomLogLevel; // 226
    public void* SetGlobalIntraOpThreadAffinity; // 227
    public void* RegisterCustomOpsLibrary_V2; // 228
    public void* RegisterCustomOpsUsingFunction; // 229
    public void* KernelInfo_GetInputCount; // 230
    public void* KernelInfo_GetOutputCount; // 231
    public void* KernelInfo_GetInputName; // 232
    public void* KernelInfo_GetOutputName; // 233
    public void* KernelInfo_GetInputTypeInfo; // 234
    public void* KernelInfo_GetOutputTypeInfo; // 235
    public void* KernelInfoGetAttribute_tensor; // 236
    public void* HasSessionConfigEntry; // 237
    public void* GetSessionConfigEntry; // 238
    public void* SessionOptionsAppendExecutionProvider_Dnnl; // 239
    public void* CreateDnnlProviderOptions; // 240
    public void* UpdateDnnlProviderOptions; // 241
    public void* GetDnnlProviderOptionsAsString; // 242
    public void* ReleaseDnnlProviderOptions; // 243
    public void* KernelInfo_GetNodeName; // 244
    public void* KernelInfo_GetLogger; // 245
    public void* KernelContext_GetLogger; // 246
    public void* Logger_LogMessage; // 247
    public void* Logger_GetLoggingSeverityLevel; // 248
    public void* KernelInfoGetConstantInput_tensor; // 249
    public void* CastTypeInfoToOptionalTypeInfo; // 250
    public void* GetOptionalContainedTypeInfo; // 251
    public void* GetResizedStringTensorElementBuffer; // 252
    public void* KernelContext_GetAllocator; // 253
    public delegate* unmanaged<byte*> GetBuildInfoString; // 254
}
