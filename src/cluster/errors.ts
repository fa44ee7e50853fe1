// All errors of the cluster subsystem, each with a stable `code` and an `isXxx()` guard.
// (Helpers append their classes below; keep one file per subsystem.)
