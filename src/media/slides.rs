//! PowerPoint decks: conversion to PDF with LibreOffice, then page count, page images and page
//! text with poppler, for `ppt_meta` (seed tables 9–10). Every tool runs through
//! [`Runner::run`]: argv only, in the job's work directory, with a timeout.
//!
//! LibreOffice runs headless in a throwaway profile inside the work directory, seeded with a
//! `registrymodifications.xcu` that sets macro security to "very high", disables macro
//! execution outright and blocks linked resources from untrusted documents, so a deck's macros
//! never run and its links are not followed. Only the first [`MAX_PAGES`] pages are rendered,
//! as the seed says; page text is cut to [`MAX_PAGE_TEXT_CHARS`] characters.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use super::runner::{input_path_arg, output_path_arg, Runner, Tool, ToolError};
use crate::error::Code;

/// The most pages rendered from one deck (seed table 9: "only the first 50 pages").
pub const MAX_PAGES: u32 = 50;

/// The most characters of `page_content` (seed table 10).
pub const MAX_PAGE_TEXT_CHARS: usize = 2048;

/// How long `pdfinfo` may take to read a page count.
pub const PDFINFO_TIMEOUT: Duration = Duration::from_secs(30);

/// JPEG quality of rendered pages.
pub const PAGE_JPEG_QUALITY: u8 = 85;

/// The LibreOffice profile settings written before every conversion.
const PROFILE_SETTINGS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop></item>
</oor:items>
"#;

/// Characters escaped in the profile's `file://` URL.
const URL_PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b']')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// How big rendered pages are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageSize {
    /// Render at this many dots per inch (`pdftoppm -r`).
    Dpi(u32),
    /// Scale each page so its longer side has this many pixels (`pdftoppm -scale-to`).
    LongSide(u32),
}

impl Default for PageSize {
    /// 1920 pixels on the long side: a 16:9 slide becomes 1920×1080.
    fn default() -> Self {
        PageSize::LongSide(1920)
    }
}

impl PageSize {
    fn args(self) -> [OsString; 2] {
        match self {
            PageSize::Dpi(dpi) => ["-r".into(), dpi.max(1).to_string().into()],
            PageSize::LongSide(px) => ["-scale-to".into(), px.max(1).to_string().into()],
        }
    }
}

/// What came of one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageOutcome {
    /// 1-based page number.
    pub page_no: u32,
    /// The rendered JPEG, or why there is none.
    pub image: Result<PathBuf, String>,
    /// The page's text, at most [`MAX_PAGE_TEXT_CHARS`] characters; empty if it has none or
    /// text extraction failed.
    pub text: String,
}

/// Why a deck could not be converted or read.
#[derive(Debug, thiserror::Error)]
pub enum SlidesError {
    /// LibreOffice failed or timed out.
    #[error("converting the deck to PDF failed: {0}")]
    Convert(ToolError),
    /// LibreOffice finished but wrote no PDF, which is what it does with files it cannot open.
    #[error(
        "LibreOffice could not open the deck ({reason}); check that it is a PowerPoint file \
         that opens in PowerPoint or LibreOffice, is not password-protected, and is not too \
         complex to convert within the memory tools may use"
    )]
    NotConverted {
        /// What LibreOffice said.
        reason: String,
    },
    /// `pdfinfo` could not read the PDF.
    #[error("reading the PDF failed: {0}")]
    Inspect(ToolError),
    /// `pdfinfo` ran but printed no `Pages:` line.
    #[error("pdfinfo printed no page count; the PDF is probably damaged")]
    NoPageCount,
    /// `pdftoppm` failed before rendering any page.
    #[error("rendering the pages failed: {0}")]
    Render(ToolError),
    /// The work directory could not be prepared or read.
    #[error("could not use the work directory {}: {source}", path.display())]
    WorkDir {
        /// The directory or file involved.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },
}

impl SlidesError {
    /// Tool and work-directory failures are internal; jobs turn them into a `FAILED` reason.
    pub fn code(&self) -> Code {
        Code::Internal
    }

    /// Whether running again on the same deck would fail the same way.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Convert(e) | Self::Inspect(e) | Self::Render(e) => e.is_permanent(),
            Self::NotConverted { .. } | Self::NoPageCount => true,
            Self::WorkDir { .. } => false,
        }
    }
}

fn workdir_error(path: &Path) -> impl FnOnce(std::io::Error) -> SlidesError + '_ {
    move |source| SlidesError::WorkDir {
        path: path.to_owned(),
        source,
    }
}

/// Converts a `.ppt`/`.pptx` deck to PDF with headless LibreOffice and returns the PDF's path
/// (`<workdir>/<input stem>.pdf`). LibreOffice gets a fresh profile under
/// `<workdir>/lo-profile` with macros disabled; `workdir` must be absolute and should be the
/// job's own directory.
pub async fn to_pdf(
    runner: &Runner,
    input: &Path,
    workdir: &Path,
    timeout: Duration,
) -> Result<PathBuf, SlidesError> {
    let input_arg = input_path_arg(input).map_err(SlidesError::Convert)?;
    let profile = workdir.join("lo-profile");
    let settings = profile.join("user").join("registrymodifications.xcu");
    std::fs::create_dir_all(profile.join("user")).map_err(workdir_error(&profile))?;
    std::fs::write(&settings, PROFILE_SETTINGS).map_err(workdir_error(&settings))?;
    let profile_url = profile_url(&profile)?;
    // LibreOffice names its output after the input, replacing only the last extension.
    let mut name = input.file_stem().unwrap_or_default().to_owned();
    name.push(".pdf");
    let pdf = workdir.join(name);
    // A PDF left from an earlier attempt must not pass for this run's output.
    match std::fs::remove_file(&pdf) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(workdir_error(&pdf)(e));
        }
        _ => {}
    }
    output_path_arg(&pdf).map_err(SlidesError::Convert)?;

    let args: Vec<OsString> = vec![
        "--headless".into(),
        "--norestore".into(),
        "--nolockcheck".into(),
        "--nodefault".into(),
        "--nologo".into(),
        profile_url,
        "--convert-to".into(),
        "pdf".into(),
        "--outdir".into(),
        workdir.into(),
        input_arg,
    ];
    let output = runner
        .run(Tool::Soffice, &args, workdir, timeout)
        .await
        .map_err(SlidesError::Convert)?;
    if std::fs::metadata(&pdf).is_ok_and(|m| m.is_file() && m.len() > 0) {
        return Ok(pdf);
    }
    // soffice exits 0 when it cannot load a file; it says so on stderr (or stdout).
    let said = [
        output.stderr_tail.as_str(),
        &String::from_utf8_lossy(&output.stdout),
    ]
    .iter()
    .flat_map(|s| s.lines())
    .map(str::trim)
    .filter(|l| !l.is_empty() && !l.contains("javaldx"))
    .collect::<Vec<_>>()
    .join("; ");
    Err(SlidesError::NotConverted {
        reason: if said.is_empty() {
            "it wrote no PDF and gave no reason".to_owned()
        } else {
            said
        },
    })
}

/// `-env:UserInstallation=file:///…` for a profile directory, which must be absolute UTF-8.
fn profile_url(profile: &Path) -> Result<OsString, SlidesError> {
    let bad = |why: &str| SlidesError::WorkDir {
        path: profile.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, why.to_owned()),
    };
    if !profile.is_absolute() {
        return Err(bad("the work directory must be an absolute path"));
    }
    let path = profile
        .to_str()
        .ok_or_else(|| bad("the work directory path must be UTF-8"))?;
    Ok(format!(
        "-env:UserInstallation=file://{}",
        utf8_percent_encode(path, URL_PATH)
    )
    .into())
}

/// The number of pages of `pdf`, from `pdfinfo`'s `Pages:` line (bounded by
/// [`PDFINFO_TIMEOUT`]).
pub async fn page_count(runner: &Runner, pdf: &Path, workdir: &Path) -> Result<u32, SlidesError> {
    let args = [input_path_arg(pdf).map_err(SlidesError::Inspect)?];
    let output = runner
        .run(Tool::Pdfinfo, &args, workdir, PDFINFO_TIMEOUT)
        .await
        .map_err(SlidesError::Inspect)?;
    parse_page_count(&String::from_utf8_lossy(&output.stdout)).ok_or(SlidesError::NoPageCount)
}

fn parse_page_count(pdfinfo: &str) -> Option<u32> {
    pdfinfo
        .lines()
        .find_map(|line| line.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
}

/// Renders pages `1..=min(pages, MAX_PAGES)` of `pdf` to JPEGs under `<workdir>/pages/` with
/// one `pdftoppm` run, and reads their text with one `pdftotext` run split on form feeds.
/// Each tool gets `timeout`. Returns one outcome per page, in order; a page whose image is
/// missing gets `Err(reason)` while the others stay `Ok`. Fails as a whole only when
/// `pdftoppm` times out or fails without rendering any page. A failure to extract text is
/// logged and leaves the texts empty.
pub async fn render_pages(
    runner: &Runner,
    pdf: &Path,
    pages: u32,
    size: PageSize,
    workdir: &Path,
    timeout: Duration,
) -> Result<Vec<PageOutcome>, SlidesError> {
    let last = pages.min(MAX_PAGES);
    if last == 0 {
        return Ok(Vec::new());
    }
    let pdf_arg = input_path_arg(pdf).map_err(SlidesError::Render)?;
    let dir = workdir.join("pages");
    // Images left by an earlier attempt in the same directory must not pass for this run's.
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(workdir_error(&dir)(e)),
        _ => {}
    }
    std::fs::create_dir_all(&dir).map_err(workdir_error(&dir))?;
    let prefix = output_path_arg(&dir.join("page")).map_err(SlidesError::Render)?;
    let range = |flag: &str, n: u32| [OsString::from(flag), n.to_string().into()];

    let mut args: Vec<OsString> = vec!["-jpeg".into(), "-jpegopt".into()];
    args.push(format!("quality={PAGE_JPEG_QUALITY}").into());
    args.extend(size.args());
    args.extend(range("-f", 1));
    args.extend(range("-l", last));
    args.push(pdf_arg.clone());
    args.push(prefix);
    let rendered = runner.run(Tool::Pdftoppm, &args, workdir, timeout).await;
    let failure = match rendered {
        Ok(_) => None,
        // Files may be half-written when the tool was killed: trust none of them.
        Err(e @ ToolError::TimedOut { .. }) => return Err(SlidesError::Render(e)),
        Err(e) => Some(e),
    };
    let images = rendered_images(&dir).map_err(workdir_error(&dir))?;
    if images.is_empty() {
        if let Some(e) = failure {
            return Err(SlidesError::Render(e));
        }
    }

    let mut text_args: Vec<OsString> = vec!["-enc".into(), "UTF-8".into()];
    text_args.extend(range("-f", 1));
    text_args.extend(range("-l", last));
    text_args.push(pdf_arg);
    text_args.push("-".into());
    let texts = match runner
        .run(Tool::Pdftotext, &text_args, workdir, timeout)
        .await
    {
        Ok(out) => split_pages(&String::from_utf8_lossy(&out.stdout)),
        Err(e) => {
            tracing::warn!(pdf.path = %pdf.display(), error = %e, "page text extraction failed, so the pages get no text");
            Vec::new()
        }
    };
    Ok(outcomes(last, images, texts, failure.as_ref()))
}

/// The page images `pdftoppm` wrote into `dir`, by page number. Its names are
/// `page-<n>.jpg`, with `<n>` zero-padded to the width of the document's page count.
fn rendered_images(dir: &Path) -> std::io::Result<Vec<(u32, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(number) = name
            .to_str()
            .and_then(|n| n.strip_prefix("page-"))
            .and_then(|n| n.strip_suffix(".jpg"))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if entry.metadata().is_ok_and(|m| m.is_file() && m.len() > 0) {
            found.push((number, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// `pdftotext` output split into pages: it ends every page with a form feed.
fn split_pages(text: &str) -> Vec<String> {
    let mut pages: Vec<&str> = text.split('\x0c').collect();
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    pages.into_iter().map(clean_text).collect()
}

/// Trims each line, drops blank ones and cuts the result to [`MAX_PAGE_TEXT_CHARS`]
/// characters (not bytes).
fn clean_text(page: &str) -> String {
    let joined = page
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    match joined.char_indices().nth(MAX_PAGE_TEXT_CHARS) {
        Some((cut, _)) => joined[..cut].to_owned(),
        None => joined,
    }
}

fn outcomes(
    last: u32,
    images: Vec<(u32, PathBuf)>,
    texts: Vec<String>,
    failure: Option<&ToolError>,
) -> Vec<PageOutcome> {
    let mut images = images.into_iter().peekable();
    let mut texts = texts.into_iter();
    (1..=last)
        .map(|page_no| {
            while images.next_if(|(n, _)| *n < page_no).is_some() {}
            let image = match images.next_if(|(n, _)| *n == page_no) {
                Some((_, path)) => Ok(path),
                None => Err(match failure {
                    Some(e) => format!("page {page_no} was not rendered: {e}"),
                    None => {
                        format!("page {page_no} was not rendered: pdftoppm wrote no image for it")
                    }
                }),
            };
            PageOutcome {
                page_no,
                image,
                text: texts.next().unwrap_or_default(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::runner::{available, JobDir};

    const TIMEOUT: Duration = Duration::from_secs(120);

    fn scratch() -> JobDir {
        JobDir::new(&std::env::temp_dir().join("assetd-media-tests")).unwrap()
    }

    /// A valid PDF of `n` small pages, page k showing "Page k" in standard Helvetica.
    fn pdf_with_pages(n: u32) -> Vec<u8> {
        let mut objects = vec![
            "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
            format!(
                "<< /Type /Pages /Kids [{}] /Count {n} >>",
                (0..n)
                    .map(|i| format!("{} 0 R", 4 + 2 * i))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
        ];
        for k in 1..=n {
            objects.push(format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 320 180] \
                 /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                5 + 2 * (k - 1)
            ));
            let stream = format!("BT /F1 24 Tf 40 80 Td (Page {k}) Tj ET");
            objects.push(format!(
                "<< /Length {} >>\nstream\n{stream}\nendstream",
                stream.len()
            ));
        }
        let mut out = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        for (i, body) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
        }
        let xref = out.len();
        out.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
        );
        for offset in offsets {
            out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        out
    }

    fn soffice_installed() -> bool {
        if available(Tool::Soffice) {
            return true;
        }
        eprintln!("skipping: soffice (LibreOffice Impress) is not installed");
        false
    }

    #[tokio::test]
    async fn a_55_page_pdf_renders_its_first_50_pages_with_their_text() {
        let job = scratch();
        let pdf = job.file("deck.pdf");
        std::fs::write(&pdf, pdf_with_pages(55)).unwrap();
        let runner = Runner::new(2);
        let count = page_count(&runner, &pdf, job.path()).await.unwrap();
        assert_eq!(count, 55);
        let pages = render_pages(
            &runner,
            &pdf,
            count,
            PageSize::LongSide(160),
            job.path(),
            TIMEOUT,
        )
        .await
        .unwrap();
        assert_eq!(pages.len(), 50);
        for (i, page) in pages.iter().enumerate() {
            let k = u32::try_from(i).unwrap() + 1;
            assert_eq!(page.page_no, k);
            assert_eq!(page.text, format!("Page {k}"));
            let image = page.image.as_ref().unwrap();
            let header = crate::media::image::read_header(image).unwrap();
            assert_eq!(
                (header.codec, header.width, header.height),
                ("jpeg", 160, 90)
            );
        }
        let files = std::fs::read_dir(job.path().join("pages")).unwrap().count();
        assert_eq!(files, 50);
    }

    #[tokio::test]
    async fn pages_can_be_sized_by_dpi() {
        let job = scratch();
        let pdf = job.file("deck.pdf");
        std::fs::write(&pdf, pdf_with_pages(2)).unwrap();
        let runner = Runner::new(1);
        let pages = render_pages(&runner, &pdf, 2, PageSize::Dpi(36), job.path(), TIMEOUT)
            .await
            .unwrap();
        assert_eq!(pages.len(), 2);
        let header = crate::media::image::read_header(pages[1].image.as_ref().unwrap()).unwrap();
        // 320×180 pt at 36 dpi is 160×90 px.
        assert_eq!((header.width, header.height), (160, 90));
    }

    #[tokio::test]
    async fn corrupt_pdf_fails_with_a_reason() {
        let job = scratch();
        let pdf = job.file("broken.pdf");
        let mut bytes = b"%PDF-1.4\n".to_vec();
        bytes.extend((0..4000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        std::fs::write(&pdf, bytes).unwrap();
        let runner = Runner::new(1);
        let err = page_count(&runner, &pdf, job.path()).await.unwrap_err();
        assert!(matches!(err, SlidesError::Inspect(_)), "{err:?}");
        assert!(err.to_string().contains("pdfinfo"), "{err}");
        assert!(err.is_permanent());
        let err = render_pages(&runner, &pdf, 3, PageSize::default(), job.path(), TIMEOUT)
            .await
            .unwrap_err();
        assert!(matches!(err, SlidesError::Render(_)), "{err:?}");
        assert!(err.to_string().contains("pdftoppm"), "{err}");
    }

    #[test]
    fn a_page_without_an_image_gets_a_reason_and_the_others_stay_ok() {
        let failure = ToolError::Failed {
            tool: Tool::Pdftoppm,
            status: std::os::unix::process::ExitStatusExt::from_raw(256),
            stderr_tail: "Syntax Error: page 2 is broken".into(),
        };
        let images = vec![
            (1, PathBuf::from("/p/page-1.jpg")),
            (3, "/p/page-3.jpg".into()),
        ];
        let texts = vec!["one".to_owned(), String::new(), "three".to_owned()];
        let got = outcomes(3, images, texts, Some(&failure));
        assert_eq!(got[0].image, Ok(PathBuf::from("/p/page-1.jpg")));
        let reason = got[1].image.as_ref().unwrap_err();
        assert!(
            reason.contains("page 2") && reason.contains("broken"),
            "{reason}"
        );
        assert_eq!(got[2].image, Ok(PathBuf::from("/p/page-3.jpg")));
        assert_eq!(got[2].text, "three");
        let got = outcomes(2, vec![(2, "/p/page-2.jpg".into())], Vec::new(), None);
        assert!(got[0].image.as_ref().unwrap_err().contains("no image"));
        assert_eq!(got[1].text, "");
    }

    #[test]
    fn page_text_is_cut_to_2048_characters_not_bytes() {
        let long = "é".repeat(3000);
        let pages = split_pages(&format!("  Title  \n\n{long}\x0cSecond\n\x0c"));
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[0].chars().count(), MAX_PAGE_TEXT_CHARS);
        assert!(pages[0].starts_with("Title\néé"));
        assert_eq!(pages[1], "Second");
    }

    #[test]
    fn pdfinfo_page_line_is_parsed() {
        let out = "Title:          x\nPages:          55\nEncrypted:      no\n";
        assert_eq!(parse_page_count(out), Some(55));
        assert_eq!(parse_page_count("Producer: y\n"), None);
    }

    #[test]
    fn profile_url_is_an_escaped_file_url() {
        let url = profile_url(Path::new("/tmp/job 1/lo-profile")).unwrap();
        assert_eq!(
            url,
            OsString::from("-env:UserInstallation=file:///tmp/job%201/lo-profile")
        );
        assert!(profile_url(Path::new("relative/lo-profile")).is_err());
    }

    /// Writes the hand-made two-slide `.fodp` and has LibreOffice save it as PPTX.
    async fn two_slide_pptx(runner: &Runner, job: &JobDir) -> PathBuf {
        let fodp = job.file("two-slides.fodp");
        std::fs::write(&fodp, include_str!("testdata/two-slides.fodp")).unwrap();
        let make = job.path().join("make");
        std::fs::create_dir_all(&make).unwrap();
        let profile = profile_url(&make.join("lo-profile")).unwrap();
        let args: Vec<OsString> = vec![
            "--headless".into(),
            "--norestore".into(),
            "--nolockcheck".into(),
            profile,
            "--convert-to".into(),
            "pptx".into(),
            "--outdir".into(),
            make.clone().into(),
            fodp.into(),
        ];
        runner
            .run(Tool::Soffice, &args, &make, TIMEOUT)
            .await
            .unwrap();
        let pptx = make.join("two-slides.pptx");
        assert!(pptx.is_file(), "soffice wrote no PPTX");
        pptx
    }

    #[tokio::test]
    async fn a_two_slide_pptx_converts_to_a_two_page_pdf() {
        if !soffice_installed() {
            return;
        }
        let job = scratch();
        let runner = Runner::new(2);
        let pptx = two_slide_pptx(&runner, &job).await;
        let pdf = to_pdf(&runner, &pptx, job.path(), TIMEOUT).await.unwrap();
        assert_eq!(pdf, job.file("two-slides.pdf"));
        assert_eq!(page_count(&runner, &pdf, job.path()).await.unwrap(), 2);
        let pages = render_pages(
            &runner,
            &pdf,
            2,
            PageSize::LongSide(320),
            job.path(),
            TIMEOUT,
        )
        .await
        .unwrap();
        assert_eq!(pages[0].text, "Hello from slide one");
        assert_eq!(pages[1].text, "Goodbye from slide two");
        assert!(pages.iter().all(|p| p.image.is_ok()));
        let settings =
            std::fs::read_to_string(job.file("lo-profile/user/registrymodifications.xcu")).unwrap();
        assert!(settings.contains("DisableMacrosExecution"), "{settings}");
    }

    #[tokio::test]
    async fn corrupt_pptx_fails_with_a_clear_reason() {
        if !soffice_installed() {
            return;
        }
        let job = scratch();
        let pptx = job.file("junk.pptx");
        let junk: Vec<u8> = (0..5000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect();
        std::fs::write(&pptx, junk).unwrap();
        let runner = Runner::new(1);
        let err = to_pdf(&runner, &pptx, job.path(), TIMEOUT)
            .await
            .unwrap_err();
        assert!(matches!(err, SlidesError::NotConverted { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("could not open the deck"), "{msg}");
        assert!(err.is_permanent());
        assert!(!job.file("junk.pdf").exists());
    }

    #[tokio::test]
    async fn relative_paths_are_refused_before_any_tool_runs() {
        let job = scratch();
        let runner = Runner::new(1);
        let err = to_pdf(&runner, Path::new("deck.pptx"), job.path(), TIMEOUT)
            .await
            .unwrap_err();
        assert!(
            matches!(err, SlidesError::Convert(ToolError::NotLocalFile(_))),
            "{err:?}"
        );
    }
}
