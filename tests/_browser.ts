// Headless Chromium for the browser tests: Debian's build at /usr/bin/chromium,
// driven by playwright-core (pinned in deno.json), and a watch for the
// script errors that a page reports only to its console.
import type { Browser, Page } from "playwright-core";

/** Where Debian installs Chromium; tests that need it are ignored without it. */
export const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
];

/** Whether Chromium is installed, for a test's `ignore`. */
export function chromiumInstalled(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/** Launches headless Chromium; close it in a `finally`. */
export async function launchChromium(): Promise<Browser> {
  // playwright-core asks at import whether it runs under WSL by probing
  // /proc, which Deno lets only --allow-all read, and the import throws.
  // This variable (the is-wsl package's test switch) defers the probe to
  // the one function that needs it: opening a desktop app, never done here.
  Deno.env.set("__IS_WSL_TEST__", "1");
  const { chromium } = await import("playwright-core");
  return await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
}

/**
 * Collects the page's uncaught errors and console errors (a module that
 * fails to load is only a console error), and calls `onError` with each.
 */
export function watchPageErrors(page: Page, onError?: (error: string) => void): string[] {
  const errors: string[] = [];
  const seen = (error: string) => {
    errors.push(error);
    onError?.(error);
  };
  page.on("console", (message) => {
    if (message.type() === "error") seen(`console.error: ${message.text()}`);
  });
  page.on("pageerror", (error) => seen(`page error: ${error.stack ?? error}`));
  return errors;
}
