/**
 * The console's only script: it runs the WebAuthn ceremonies (login, approve, enroll) that a server-
 * rendered page cannot. Everything else is plain HTML. Compiled for the browser with Bun.build at build
 * time (bundle.ts); no dependencies.
 */

export {};

type Json = Record<string, unknown>;

const b64urlToBytes = (s: string): Uint8Array => {
  const b64 = s
    .replace(/-/g, "+")
    .replace(/_/g, "/")
    .padEnd(Math.ceil(s.length / 4) * 4, "=");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
};
const bytesToB64url = (buf: ArrayBuffer | Uint8Array): string => {
  const bytes = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};

const statusEl = document.getElementById("status");
const say = (text: string, kind: "info" | "error" | "ok" = "info") => {
  if (!statusEl) return;
  statusEl.textContent = text;
  statusEl.className = `status status-${kind}`;
  statusEl.setAttribute("role", kind === "error" ? "alert" : "status");
};

async function post(path: string, body: Json = {}): Promise<Json> {
  const res = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify(body),
  });
  const data = (await res.json().catch(() => ({}))) as Json;
  if (!res.ok)
    throw new Error(`${String(data["code"] ?? res.status)}: ${String(data["message"] ?? res.statusText)}`);
  return data;
}

type Descriptor = { id: string; type: "public-key"; transports?: string[] };

function requestOptions(json: Json): PublicKeyCredentialRequestOptions {
  return {
    ...(json as object),
    challenge: b64urlToBytes(json["challenge"] as string),
    allowCredentials: ((json["allowCredentials"] as Descriptor[] | undefined) ?? []).map((c) => ({
      type: "public-key",
      id: b64urlToBytes(c.id),
    })),
  } as unknown as PublicKeyCredentialRequestOptions;
}

function creationOptions(json: Json): PublicKeyCredentialCreationOptions {
  const user = json["user"] as Json;
  return {
    ...(json as object),
    challenge: b64urlToBytes(json["challenge"] as string),
    user: { ...(user as object), id: b64urlToBytes(user["id"] as string) },
    excludeCredentials: ((json["excludeCredentials"] as Descriptor[] | undefined) ?? []).map((c) => ({
      type: "public-key",
      id: b64urlToBytes(c.id),
    })),
  } as unknown as PublicKeyCredentialCreationOptions;
}

async function getAssertion(options: Json): Promise<Json> {
  const cred = (await navigator.credentials.get({
    publicKey: requestOptions(options),
  })) as PublicKeyCredential | null;
  if (!cred) throw new Error("no passkey was used");
  const r = cred.response as AuthenticatorAssertionResponse;
  return {
    id: cred.id,
    rawId: bytesToB64url(cred.rawId),
    type: "public-key",
    clientExtensionResults: {},
    response: {
      authenticatorData: bytesToB64url(r.authenticatorData),
      clientDataJSON: bytesToB64url(r.clientDataJSON),
      signature: bytesToB64url(r.signature),
      ...(r.userHandle ? { userHandle: bytesToB64url(r.userHandle) } : {}),
    },
  };
}

async function createCredential(options: Json): Promise<Json> {
  const cred = (await navigator.credentials.create({
    publicKey: creationOptions(options),
  })) as PublicKeyCredential | null;
  if (!cred) throw new Error("no passkey was created");
  const r = cred.response as AuthenticatorAttestationResponse;
  return {
    id: cred.id,
    rawId: bytesToB64url(cred.rawId),
    type: "public-key",
    clientExtensionResults: {},
    response: {
      clientDataJSON: bytesToB64url(r.clientDataJSON),
      attestationObject: bytesToB64url(r.attestationObject),
    },
  };
}

/** Run `task` from a button, keeping the button disabled (and the page told) while it runs. */
function wire(selector: string, task: (el: HTMLButtonElement) => Promise<void>): void {
  for (const el of document.querySelectorAll<HTMLButtonElement>(selector)) {
    el.addEventListener("click", async (event) => {
      event.preventDefault();
      el.disabled = true;
      el.setAttribute("aria-busy", "true");
      try {
        await task(el);
      } catch (err) {
        say(err instanceof Error ? err.message : String(err), "error");
      } finally {
        el.disabled = false;
        el.removeAttribute("aria-busy");
      }
    });
  }
}

wire("[data-action=login]", async () => {
  say("Waiting for your passkey…");
  const { options } = await post("/api/login/options");
  const assertion = await getAssertion(options as Json);
  await post("/api/login", { assertion });
  say("Signed in.", "ok");
  location.assign("/");
});

wire("[data-action=logout]", async () => {
  await post("/api/logout");
  location.assign("/login");
});

wire("[data-action=approve]", async (el) => {
  const digest = el.dataset["digest"] ?? "";
  say("Waiting for your passkey to sign this change…");
  const { options } = await post(`/api/changes/${digest}/options`);
  const assertion = await getAssertion(options as Json);
  const result = await post(`/api/changes/${digest}/approve`, { assertion });
  say(String(result["message"]), "ok");
  setTimeout(() => location.reload(), 600);
});

wire("[data-action=register]", async () => {
  const name = (document.getElementById("owner-name") as HTMLInputElement | null)?.value.trim() ?? "";
  const label = (document.getElementById("passkey-label") as HTMLInputElement | null)?.value.trim() ?? "";
  if (!name) {
    say("Enter the owner's name first.", "error");
    document.getElementById("owner-name")?.focus();
    return;
  }
  say("Follow your browser's prompt to create a passkey…");
  const { options } = await post("/api/enroll/options", { name });
  const response = await createCredential(options as Json);
  const result = await post("/api/enroll/register", { name, label, response });
  const list = document.getElementById("registered");
  if (list) {
    const li = document.createElement("li");
    li.textContent = String(result["summary"]);
    list.append(li);
  }
  say(`Passkey registered for ${name}. Register another (a backup key) or finish.`, "ok");
});

wire("[data-action=finish]", async () => {
  say("Building the change…");
  const { proofs } = (await post("/api/enroll/finish")) as { proofs: Json[] };
  let result: Json = {};
  for (const [i, options] of proofs.entries()) {
    say(`Passkey ${i + 1} of ${proofs.length}: sign the change to prove you hold it…`);
    const assertion = await getAssertion(options);
    result = await post("/api/enroll/proof", { assertion });
  }
  const done = document.getElementById("done");
  if (done && result["committed"] !== undefined) {
    say("Enrollment complete.", "ok");
    done.hidden = false;
    done.textContent = String(result["message"]);
    for (const b of document.querySelectorAll<HTMLButtonElement>("form button")) b.hidden = true;
    const next = result["next"];
    if (typeof next === "string" && next.startsWith("/")) {
      // Init: the same session goes on to approve the initial attestation policy.
      const p = document.createElement("p");
      const a = document.createElement("a");
      a.href = next;
      a.textContent = "Continue: approve the initial attestation policy";
      p.append(a);
      done.append(p);
      a.focus();
    } else done.focus();
  } else say(String(result["message"]), "ok");
});
