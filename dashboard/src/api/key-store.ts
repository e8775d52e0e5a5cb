/** The API key the user gave this tab: sessionStorage only, so it dies with the tab. */
const SLOT = 'contract-net.api-key';

export const keyStore = {
  get: (): string | null => sessionStorage.getItem(SLOT),
  set: (key: string) => sessionStorage.setItem(SLOT, key),
  clear: () => sessionStorage.removeItem(SLOT),
};
