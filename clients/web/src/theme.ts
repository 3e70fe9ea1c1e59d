/** Light, dark, or the system's choice (prefers-color-scheme), kept in localStorage. */
export type Theme = "auto" | "light" | "dark";

export const THEME_STORAGE = "tempera.theme";
const ORDER: readonly Theme[] = ["auto", "dark", "light"];

export function readTheme(storage: Pick<Storage, "getItem"> | undefined): Theme {
  try {
    const value = storage?.getItem(THEME_STORAGE);
    return value === "light" || value === "dark" ? value : "auto";
  } catch {
    return "auto";
  }
}

export function storeTheme(storage: Pick<Storage, "setItem" | "removeItem"> | undefined, theme: Theme): void {
  try {
    if (theme === "auto") storage?.removeItem(THEME_STORAGE);
    else storage?.setItem(THEME_STORAGE, theme);
  } catch {
    // the choice lasts for this page only
  }
}

/** The next theme of the toggle: auto → dark → light → auto. */
export function nextTheme(theme: Theme): Theme {
  return ORDER[(ORDER.indexOf(theme) + 1) % ORDER.length]!;
}

/** Sets `data-theme` on the root (auto: none, the stylesheet follows the system) and the toggle's label. */
export function applyTheme(root: HTMLElement, theme: Theme, toggle: HTMLElement): void {
  if (theme === "auto") delete root.dataset.theme;
  else root.dataset.theme = theme;
  const label = theme === "auto" ? "Theme: system" : theme === "dark" ? "Theme: dark" : "Theme: light";
  toggle.textContent = theme === "auto" ? "◐" : theme === "dark" ? "☾" : "☀";
  toggle.setAttribute("aria-label", `${label} (change)`);
  toggle.title = label;
  toggle.dataset.theme = theme;
}
