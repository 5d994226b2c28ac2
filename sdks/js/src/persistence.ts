/**
 * Where a signed-in session is kept between page loads or app starts. Anything with
 * getItem/setItem/removeItem works, synchronous (localStorage) or not (React Native's
 * AsyncStorage), so no storage library is a dependency.
 */
export interface Persistence {
  getItem(key: string): string | null | Promise<string | null>;
  setItem(key: string, value: string): void | Promise<void>;
  removeItem(key: string): void | Promise<void>;
}

/** Kept in this process only: the default where nothing else exists (Node, tests). */
export function memoryPersistence(): Persistence {
  const items = new Map<string, string>();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  };
}

/** The browser's localStorage (survives reloads, shared by the origin's tabs). */
export function localStoragePersistence(storage: Persistence = (globalThis as { localStorage?: Persistence }).localStorage!): Persistence {
  if (!storage) throw new Error("localStorage is not available here; use memoryPersistence()");
  return storage;
}

/** React Native's AsyncStorage, or any store with the same three async methods. */
export function asyncStoragePersistence(storage: Persistence): Persistence {
  return storage;
}
