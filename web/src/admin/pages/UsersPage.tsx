import { Route, Routes } from "react-router-dom";
import { UserDetail } from "./users/UserDetail";
import { UserList } from "./users/UserList";

/** /admin/users: the list with its search, /admin/users/<id> one account. */
export default function UsersPage() {
  return (
    <Routes>
      <Route index element={<UserList />} />
      <Route path=":userId" element={<UserDetail />} />
    </Routes>
  );
}
