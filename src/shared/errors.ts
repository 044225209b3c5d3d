/**
 * Error classes shared by the layers. Each carries a stable `code` so that
 * the command and embedders can react without parsing messages.
 */

/** Base class: every error the product raises on purpose. */
export class VduseBlkError extends Error {
  constructor(message: string, readonly code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The host cannot run VDUSE devices (module missing, no permission, old kernel). */
export class VduseUnavailableError extends VduseBlkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'VDUSE_UNAVAILABLE', options);
  }
}

/** A device with this name already exists. */
export class DeviceExistsError extends VduseBlkError {
  constructor(name: string, options?: { cause?: unknown }) {
    super(`a VDUSE device named '${name}' already exists (another server is using it, or it was left behind: ` +
      `'vdpa dev del ${name}' then destroy it, or pick another --name)`, 'DEVICE_EXISTS', options);
  }
}

/** The backing store is unusable (missing, too small, unreadable). */
export class BackendError extends VduseBlkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'BACKEND', options);
  }
}

/** Attaching the device to the vDPA bus or binding the driver failed. */
export class AttachError extends VduseBlkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ATTACH', options);
  }
}

/** A queue worker failed to start or stop in time. */
export class WorkerError extends VduseBlkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'WORKER', options);
  }
}

/** The errno name of a Node/addon error, if it has one. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}
