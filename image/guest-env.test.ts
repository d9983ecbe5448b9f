// The image's unit configuration, checked without building the image: the generated env files are what
// each service's own schema accepts, listen on exactly the ports the host forwards (GUEST_PORTS), and the
// units agree with where the bootstrapper provisions the control-plane services (the state mount).
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FW_CFG_NODE_NAME, GUEST_PORTS, METADATA_GUEST_URL } from "@asterism/node-vm";
import * as v from "valibot";
import { ConfigSchema as BootstrapperConfig } from "../apps/bootstrapper/src/config.ts";
import {
  CONTROL_PLANE_UNITS,
  controlPlaneServiceFiles,
  KMS_LOOPBACK_PORT,
} from "../apps/bootstrapper/src/control-plane-services.ts";
import { ConfigSchema as JoinServiceConfig } from "../apps/join-service/src/config.ts";
import { ConfigSchema as VerificationConfig } from "../apps/verification-service/src/config.ts";
import { guestEnvironment, renderEnvironmentFile, STATE_MOUNT } from "./guest-env.ts";

const units = join(import.meta.dir, "rootfs", "etc", "systemd", "system");
const unit = (name: string) => readFileSync(join(units, name), "utf8");
const env = guestEnvironment();
/** Parse a rendered file back as systemd reads an EnvironmentFile (comments skipped). */
const parseEnv = (text: string) =>
  Object.fromEntries(
    text
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("#"))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );

describe("generated env files", () => {
  test("bootstrapper: accepted by its schema, with the VM settings of the contract", () => {
    const c = v.parse(BootstrapperConfig, parseEnv(renderEnvironmentFile(env["bootstrapper"]!)));
    expect(c.ASTERISM_INIT_LISTEN).toEqual({ host: "0.0.0.0", port: GUEST_PORTS.init });
    expect(c.ASTERISM_RECOVERY_LISTEN).toEqual({ host: "0.0.0.0", port: GUEST_PORTS.recovery });
    expect(c.ASTERISM_HTTP_LISTEN).toEqual({ host: "0.0.0.0", port: GUEST_PORTS.bootstrapperStatus });
    expect(c.ASTERISM_METADATA_URL).toBe(METADATA_GUEST_URL);
    expect(c.ASTERISM_NODE_NAME_FILE).toBe(`/sys/firmware/qemu_fw_cfg/by_name/${FW_CFG_NODE_NAME}/raw`);
    expect(c.ASTERISM_STATE_MOUNT).toBe(STATE_MOUNT);
    expect(c.ASTERISM_PKI_DIR?.startsWith(`${STATE_MOUNT}/`)).toBe(true);
    expect(c.ASTERISM_CONTROL_PLANE_SERVICES).toBe("systemd");
    expect(c.ASTERISM_KUBERNETES_INSTALLER).toBe("local");
    expect(c.ASTERISM_DEVICE_MAPPER).toBe("cryptsetup");
    expect(c.ASTERISM_LUKS_PBKDF).toEqual({ pbkdf: "pbkdf2", iterations: 1000 });
  });

  test("verification-service: accepted, listening on the verify port", () => {
    const c = v.parse(VerificationConfig, parseEnv(renderEnvironmentFile(env["verification-service"]!)));
    expect(c.ASTERISM_VERIFY_LISTEN).toEqual({ host: "0.0.0.0", port: GUEST_PORTS.verify });
  });

  test("join-service: image listeners + the provisioned file make a complete configuration", () => {
    const files = controlPlaneServiceFiles(STATE_MOUNT);
    const provisioned = {
      ASTERISM_STATE: `sqlite:${files.clusterState}`,
      ASTERISM_PKI_DIR: `${STATE_MOUNT}/pki`,
      ASTERISM_KMS_URL: `https://127.0.0.1:${KMS_LOOPBACK_PORT}`,
      ASTERISM_KMS_CA_FILE: "/x",
      ASTERISM_KMS_CERT_FILE: "/x",
      ASTERISM_KMS_KEY_FILE: "/x",
      ASTERISM_API_SERVER_ENDPOINT: "10.0.2.100:6443",
    };
    const c = v.parse(JoinServiceConfig, {
      ...parseEnv(renderEnvironmentFile(env["join-service"]!)),
      ...provisioned,
    });
    expect(c.ASTERISM_JOIN_LISTEN).toEqual({ host: "0.0.0.0", port: GUEST_PORTS.join });
    expect(c.ASTERISM_HTTP_LISTEN).toEqual({ host: "0.0.0.0", port: GUEST_PORTS.joinHttp });
  });

  test("the KMS port (loopback inside the guest) collides with no forwarded port", () => {
    expect(Object.values(GUEST_PORTS)).not.toContain(KMS_LOOPBACK_PORT);
  });

  test("values that systemd would split or expand are refused", () => {
    expect(() => renderEnvironmentFile({ A: "x y" })).toThrow();
    expect(() => renderEnvironmentFile({ A: "$X" })).toThrow();
  });
});

describe("units", () => {
  test("the bootstrapper is a oneshot that stays active: After= it means after activation", () => {
    const u = unit("asterism-bootstrapper.service");
    expect(u).toMatch(/^Type=oneshot$/m);
    expect(u).toMatch(/^RemainAfterExit=yes$/m);
    expect(u).toMatch(/^EnvironmentFile=\/etc\/asterism\/bootstrapper\.env$/m);
    // Exit 3: activation failed in this boot, only a reboot helps (apps/bootstrapper main.ts).
    expect(u).toMatch(/^RestartPreventExitStatus=3$/m);
  });

  test("control-plane units: conditioned on and configured by the files the bootstrapper provisions", () => {
    const files = controlPlaneServiceFiles(STATE_MOUNT);
    expect([...CONTROL_PLANE_UNITS]).toEqual(["asterism-kms.service", "asterism-join-service.service"]);
    const kms = unit("asterism-kms.service");
    expect(kms).toContain(`ConditionPathExists=${files.kmsEnv}\n`);
    expect(kms).toContain(`EnvironmentFile=${files.kmsEnv}\n`);
    const js = unit("asterism-join-service.service");
    expect(js).toContain(`ConditionPathExists=${files.joinServiceEnv}\n`);
    expect(js).toContain("EnvironmentFile=/etc/asterism/join-service.env\n");
    expect(js).toContain(`EnvironmentFile=${files.joinServiceEnv}\n`);
    for (const u of [kms, js, unit("asterism-verification-service.service")]) {
      expect(u).toMatch(/^After=asterism-bootstrapper\.service/m);
      expect(u).toMatch(/^Requires=asterism-bootstrapper\.service$/m);
    }
  });

  test("every Asterism service logs to the console (the host reads ttyS0 = serial.log)", () => {
    for (const name of [
      "asterism-bootstrapper.service",
      "asterism-verification-service.service",
      "asterism-kms.service",
      "asterism-join-service.service",
    ]) {
      const u = unit(name);
      expect({ name, out: /^StandardOutput=journal\+console$/m.test(u) }).toEqual({ name, out: true });
      expect({ name, err: /^StandardError=journal\+console$/m.test(u) }).toEqual({ name, err: true });
    }
  });

  test("qemu_fw_cfg is loaded (node name) and e2fsprogs is installed (mkfs.ext4)", () => {
    const modules = readFileSync(
      join(import.meta.dir, "rootfs", "etc", "modules-load.d", "asterism.conf"),
      "utf8",
    );
    expect(modules.split("\n")).toContain("qemu_fw_cfg");
    expect(modules.split("\n")).toContain("dm_crypt");
    const packages = readFileSync(join(import.meta.dir, "packages.txt"), "utf8").split("\n");
    expect(packages).toContain("e2fsprogs");
  });
});
