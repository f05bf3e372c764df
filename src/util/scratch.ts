// Reusable host arrays for per-step work: a training step that allocates fresh multi-megabyte arrays
// pays for new pages every time (on these VMs, more than the arithmetic). One pool per module.

/** Arrays grow with 25% to spare: batches vary in length, and each regrowth means fresh pages. */
const HEADROOM = 1.25;

export class ScratchPool {
  private readonly arrays = new Map<string, Float32Array>();

  /** A float32 array of `size` for `role`; its contents are whatever the last user of the role left. */
  get(role: string, size: number): Float32Array {
    let a = this.arrays.get(role);
    if (!a || a.length < size) {
      a = new Float32Array(Math.ceil(size * HEADROOM));
      this.arrays.set(role, a);
    }
    return a.subarray(0, size);
  }
}
