// Which side panel is open, and the More menu.

export const PANEL_SET = "controls/panel-set";  // {panel: "chat" | "participants" | null}
export const MORE_SET = "controls/more-set";    // {open}

export function controlsReducer(s = { openPanel: null, moreOpen: false }, action) {
  switch (action.type) {
    case PANEL_SET: return { ...s, openPanel: action.panel };
    case MORE_SET: return s.moreOpen === action.open ? s : { ...s, moreOpen: action.open };
    default: return s;
  }
}
