/**
 * Node VMs for the local cluster and the VM tests: QEMU q35 + KVM + OVMF + one swtpm per VM, booting
 * the Asterism node image (`bun image/build.ts`) on loopback-only user-mode networking.
 *
 * @module
 */
export { type BootReport, parseBootReport, waitForBootReport } from "./boot-report.ts";
export {
  CONTROL_PLANE_GUEST_ADDRESS,
  type LocalCluster,
  type LocalClusterNode,
  type LocalClusterOptions,
  type PlannedNode,
  planLocalCluster,
  startLocalCluster,
  stopLocalCluster,
} from "./cluster.ts";
export { NodeVmError, type NodeVmErrorCode } from "./errors.ts";
export { manufactureTpm, type TpmCa } from "./manufacture.ts";
export {
  GUEST_ADDRESSES,
  GUEST_PORTS,
  type GuestPortName,
  MAX_NODE_INDEX,
  METADATA_GUEST_PORT,
  METADATA_GUEST_URL,
  nodeGuestIp,
} from "./ports.ts";
export { qmpCommand } from "./qmp.ts";
export {
  defaultAccel,
  FW_CFG_NODE_NAME,
  freeLoopbackPort,
  GUEST_FORWARD_RELAY,
  type GuestForward,
  type HostForward,
  type NodeVm,
  type NodeVmOptions,
  nodeVmStatus,
  OVMF_CODE,
  OVMF_VARS_TEMPLATE,
  qemuArgv,
  resetNodeVm,
  startNodeVm,
  stopNodeVm,
} from "./vm.ts";
