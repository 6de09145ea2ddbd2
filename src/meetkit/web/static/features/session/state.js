// Where the page is (docs/ui.md "Screens and states") and who we are in the room.

export const NAME_CHOSEN = "session/name-chosen";        // {name}
export const SCREEN_SHOWN = "session/screen-shown";      // {state, reason?, text?, notFound?}
export const WELCOMED = "session/welcomed";              // {participantId, resumeToken, role, locked}
export const RESTARTED = "session/restarted";            // a resume came back as a new participant
export const ADMITTED = "session/admitted";              // {msg}: the server's `admitted`

const initial = (role) => ({
  state: "prejoin",
  participantId: null,
  resumeToken: null,
  role: role === "host" ? "host" : "guest",
  name: "",
  everJoined: false,
  // what the end screens say
  deniedReason: "",
  leftText: "",
  notFound: false,
});

export const sessionReducer = (role) => (s = initial(role), action) => {
  switch (action.type) {
    case NAME_CHOSEN: return { ...s, name: action.name };
    case WELCOMED: return { ...s, participantId: action.participantId, resumeToken: action.resumeToken,
      role: action.role === "host" ? "host" : "guest" };
    case ADMITTED: return { ...s, state: "joined", everJoined: true };
    case SCREEN_SHOWN: return {
      ...s,
      state: action.state,
      deniedReason: action.state === "denied" ? action.reason || "" : s.deniedReason,
      leftText: action.state === "left" ? action.text || "" : s.leftText,
      notFound: action.state === "ended" ? !!action.notFound : s.notFound,
    };
    default: return s;
  }
};

export const isIn = (s, ...states) => states.includes(s.session.state);
