# Homebrew formula: builds aws-rotate-keys from the release tarball with cargo.
# The url and sha256 lines are placeholders, filled in at release by scripts/dist-formula:
#     scripts/dist-formula aws-rotate-keys-VERSION.tar.gz > Formula/aws-rotate-keys.rb
# Put the result in a tap (a repository named homebrew-SOMETHING, in its Formula/ folder).
class AwsRotateKeys < Formula
  desc "Rotate AWS IAM access keys, verifying the new key before the old one goes"
  homepage "https://downloads.aws-rotate-keys.org/releases/"
  url "@RELEASE_URL@" # filled in at release by scripts/dist-formula
  sha256 "@RELEASE_SHA256@" # filled in at release by scripts/dist-formula
  license any_of: ["MIT", "Apache-2.0"]

  depends_on "rust" => :build

  def install
    system "cargo", "install", *std_cargo_args
    man1.install "man/aws-rotate-keys.1"
    bash_completion.install "completions/aws-rotate-keys.bash" => "aws-rotate-keys"
    zsh_completion.install "completions/_aws-rotate-keys"
    fish_completion.install "completions/aws-rotate-keys.fish"
  end

  test do
    assert_match "aws-rotate-keys #{version}", shell_output("#{bin}/aws-rotate-keys --version")
  end
end
