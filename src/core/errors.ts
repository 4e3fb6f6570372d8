// The one error the CPU kernels throw: a run-time failure such as an index out of range, or a
// contract violation by the caller (wrong dtype, shapes that do not broadcast, a bad `out`).
// The interpreter turns it into a run-time diagnostic; the message is meant to be shown as is.

export class KernelError extends Error {
  /** The kernel that failed ("gather", "matmul", ...). */
  readonly kernel: string;
  /** The IR node being evaluated when it failed, where the interpreter knows it (a fused kernel's absorbed gather). */
  node?: number;

  constructor(kernel: string, message: string) {
    super(`${kernel}: ${message}`);
    this.name = "KernelError";
    this.kernel = kernel;
  }
}
