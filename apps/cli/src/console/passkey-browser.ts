/**
 * TEST-ONLY: the browser the owner tests drive — Debian's Chromium, headless through playwright-core,
 * with the DevTools virtual authenticator standing in for the owner's passkey (a CTAP2 platform
 * authenticator with user verification, as a phone or security key with a PIN would be). Nothing of
 * this is imported by the CLI itself.
 */
import { existsSync } from "node:fs";
import { type Browser, type BrowserContext, type CDPSession, chromium, type Page } from "playwright-core";

/** Debian's `chromium` package (scripts/apt-packages.txt); no browser is downloaded. */
export const CHROMIUM = "/usr/bin/chromium";
/** Browser tests skip themselves where it is not installed. */
export const haveChromium = existsSync(CHROMIUM);

/** A headless browser page with one virtual passkey authenticator attached. */
export interface PasskeyBrowser {
  readonly browser: Browser;
  readonly context: BrowserContext;
  readonly page: Page;
  readonly cdp: CDPSession;
  /** The virtual authenticator's ID (for `WebAuthn.getCredentials` and friends). */
  readonly authenticatorId: string;
}

/**
 * Launch Chromium without network side channels (no sync, updates, QUIC or background fetches: the
 * tests only talk to 127.0.0.1) and attach the virtual authenticator, which answers every ceremony
 * with user presence and verification.
 */
export async function launchPasskeyBrowser(
  opts: { viewport?: { width: number; height: number } } = {},
): Promise<PasskeyBrowser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1200, height: 900 } });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId } = (await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  })) as { authenticatorId: string };
  return { browser, context, page, cdp, authenticatorId };
}
