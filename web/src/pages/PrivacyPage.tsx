import { Link } from "react-router-dom";

export function PrivacyPage() {
  return (
    <article className="prose">
      <h1>Privacy policy</h1>
      <p>
        Helpline stores your account details and the messages you write so that the assistant can answer you and so
        that you can come back to your conversations. Messages are sent to the configured language model to produce
        answers.
      </p>
      <p>
        On your <Link to="/account">account page</Link> you can, at any time: give or withdraw your consents (without
        consent to the processing of your messages the assistant does not answer), download a copy of everything
        stored about you (a ZIP file with JSON and readable text), and delete your account with all its data at once.
        When this policy changes you are asked to consent again.
      </p>
      <p>Operators of this Helpline installation replace this page with their own policy.</p>
    </article>
  );
}
