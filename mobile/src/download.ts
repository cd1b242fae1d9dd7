// A file from the API saved on the phone (with the access token) and offered to the share sheet.
import { Directory, File, Paths } from "expo-file-system";
import * as Sharing from "expo-sharing";

export async function saveAndShare(url: string, name: string, accessToken: string): Promise<string> {
  const target = new File(new Directory(Paths.document), name);
  const file = await File.downloadFileAsync(url, target, {
    headers: { Authorization: `Bearer ${accessToken}` },
    idempotent: true,
  });
  if (await Sharing.isAvailableAsync()) await Sharing.shareAsync(file.uri, { mimeType: "application/zip" });
  return file.uri;
}
