// Secrets (the tokens) in the platform's secure storage: the iOS Keychain and the Android
// Keystore through expo-secure-store. The web build has no secure store: it falls back to
// localStorage, as the web app keeps its session.
import { Platform } from "react-native";
import * as SecureStore from "expo-secure-store";

export interface SecretStore {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
  remove(key: string): Promise<void>;
}

const webStore: SecretStore = {
  async get(key) {
    try {
      return globalThis.localStorage?.getItem(key) ?? null;
    } catch {
      return null;
    }
  },
  async set(key, value) {
    globalThis.localStorage?.setItem(key, value);
  },
  async remove(key) {
    globalThis.localStorage?.removeItem(key);
  },
};

const nativeStore: SecretStore = {
  get: (key) => SecureStore.getItemAsync(key),
  set: (key, value) => SecureStore.setItemAsync(key, value),
  remove: (key) => SecureStore.deleteItemAsync(key),
};

export const secretStore: SecretStore = Platform.OS === "web" ? webStore : nativeStore;
