/** The request layer's view of the device; defined in the leaf layer because the control plane builds it too. */
export type { BlkDeviceSettings } from '../../shared/worker-data.js';
