export function PrivacyPage() {
  return (
    <article className="prose">
      <h1>Privacy policy</h1>
      <p>
        Helpline stores your account details and the messages you write so that the assistant can answer you and so
        that you can come back to your conversations. Messages are sent to the configured language model to produce
        answers. You can export everything stored about you and erase your account at any time from your account page.
      </p>
      <p>Operators of this Helpline installation replace this page with their own policy.</p>
    </article>
  );
}
