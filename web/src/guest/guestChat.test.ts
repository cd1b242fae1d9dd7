import { guestChatAllowed } from "./guestChat";

describe("guestChatAllowed", () => {
  it("needs the widget on and guests allowed", () => {
    expect(guestChatAllowed({ enabled: true, guests_allowed: true })).toBe(true);
    expect(guestChatAllowed({ enabled: true, guests_allowed: false })).toBe(false);
    expect(guestChatAllowed({ enabled: false, guests_allowed: true })).toBe(false);
    expect(guestChatAllowed(null)).toBe(false);
  });
});
