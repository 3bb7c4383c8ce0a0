package flows

import "net/http"

// shownError is the error a page shows; answer sets it. Embedded in the
// views of the pages that can carry one.
type shownError struct {
	Error *APIError
}

func (f *shownError) setError(e *APIError) { f.Error = e }

type errorShower interface{ setError(*APIError) }

// pageFunc builds the page a browser gets with an error on it (a form
// shown again). It runs only when a page is sent, so an API client never
// pays for (or logs from) building one.
type pageFunc func() view

// answer is the one way a handler answers an error; fail, writeError,
// failJSON and answerStore lead here. The code is counted here, once.
// With html false the answer is the JSON body; otherwise form's page
// with e on it, or with form nil the error page. The caller logs what
// only it knows: answer has nothing secret to log, and logs nothing.
func (s *Service) answer(w http.ResponseWriter, r *http.Request, e *APIError, html bool, form pageFunc) {
	s.obs.Error(e.Code)
	if e.Status == http.StatusMethodNotAllowed && w.Header().Get("Allow") == "" {
		w.Header().Set("Allow", "POST")
	}
	switch {
	case !html:
		writeJSON(w, e.Status, e)
	case form == nil:
		s.render(w, r, e.Status, &errorView{layout: layout{Title: http.StatusText(e.Status)}, shownError: shownError{e}})
	default:
		page := form()
		if f, ok := page.(errorShower); ok {
			f.setError(e)
		}
		s.render(w, r, e.Status, page)
	}
}

// fail answers e: JSON to API clients, form's page (nil: the error page)
// to browsers.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, e *APIError, form pageFunc) {
	s.answer(w, r, e, wantsHTML(r), form)
}

// writeError answers e: JSON to API clients, the error page to browsers.
func (s *Service) writeError(w http.ResponseWriter, r *http.Request, e *APIError) {
	s.answer(w, r, e, wantsHTML(r), nil)
}

// failJSON answers e as JSON whatever the Accept header says (the admin
// API, the JSON API's and the Guard's 401s).
func (s *Service) failJSON(w http.ResponseWriter, r *http.Request, e *APIError) {
	s.answer(w, r, e, false, nil)
}
